using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Conformance;

/// <summary>The results of an answer line.</summary>
internal static class Results
{
    public static Dp.CallResult Ok(ScoringResult<float[,]> result, int k)
    {
        var scores = result.Scores;
        var answer = WithTrailers(new Dp.CallResult { Code = Dp.Code.Ok, RequestId = result.RequestId }, result.Trailers);
        answer.Shape.Add([scores.GetLength(0), scores.GetLength(1)]);
        foreach (var row in Predictions.TopK(scores, k))
        {
            var top = new Dp.TopK();
            top.Predictions.AddRange(row.Select(p => new Dp.Prediction { ClassId = p.ClassId, Score = p.Score }));
            answer.TopK.Add(top);
        }
        return answer;
    }

    public static Dp.CallResult Ok() => new() { Code = Dp.Code.Ok };

    /// <summary>The result of <c>ACTION_METADATA</c>: the model name, version (absent when the server sent none),
    /// signature name, and inputs and outputs in name order.</summary>
    public static Dp.CallResult Ok(ModelMetadata metadata)
    {
        static IEnumerable<Dp.TensorSpec> Specs(IEnumerable<TensorSpec> specs) => specs.Select(s =>
        {
            var spec = new Dp.TensorSpec { Name = s.Name, Dtype = s.DataType };
            spec.Shape.AddRange(s.Shape.Select(d => checked((int)d)));
            return spec;
        });

        var described = new Dp.ModelMetadata { ModelName = metadata.ModelName, SignatureName = metadata.SignatureName };
        if (metadata.Version is { } version) described.Version = version;
        described.Inputs.AddRange(Specs(metadata.Inputs));
        described.Outputs.AddRange(Specs(metadata.Outputs));
        return new Dp.CallResult { Code = Dp.Code.Ok, Metadata = described };
    }

    public static Dp.CallResult Failed(Exception error) => error switch
    {
        ScoringException e => WithTrailers(new Dp.CallResult { Code = CodeOf(e.StatusCode), Message = e.Details, RequestId = e.RequestId },
            e.Trailers),
        _ => new Dp.CallResult { Code = Dp.Code.Unknown, Message = $"{error.GetType().Name}: {error.Message}" },
    };

    /// <summary>The result with the call's text trailers, the first value of a key sent twice.</summary>
    private static Dp.CallResult WithTrailers(Dp.CallResult result, Grpc.Core.Metadata trailers)
    {
        foreach (var entry in trailers)
            if (!entry.IsBinary) result.Trailers.TryAdd(entry.Key, entry.Value);
        return result;
    }

    /// <summary>The protocol's code of a gRPC status code: the same numbers (and names: <c>UNAVAILABLE</c> in JSON).</summary>
    public static Dp.Code CodeOf(Grpc.Core.StatusCode code) => (Dp.Code)(int)code;
}
