using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>The result objects of a response line.</summary>
internal static class Results
{
    public static JsonObject Ok(ScoringResult<float[,]> result, int k)
    {
        var scores = result.Scores;
        int rows = scores.GetLength(0), columns = scores.GetLength(1);
        var topK = new JsonArray();
        foreach (var row in Predictions.TopK(scores, k))
            topK.Add(new JsonArray(row.Select(p => (JsonNode)new JsonArray(p.ClassId, (double)p.Score)).ToArray()));
        return Result("OK", "", result.RequestId, new JsonArray(rows, columns), topK);
    }

    public static JsonObject Ok() => Result("OK", "", "", null, null);

    /// <summary>
    /// The result of <c>action: metadata</c>, as the Python driver writes it: <c>metadata</c> with the model name,
    /// version (an integer or null), signature name, and inputs and outputs as <c>[name, dtype, [shape...]]</c>.
    /// </summary>
    public static JsonObject Ok(ModelMetadata metadata)
    {
        static JsonArray Specs(IEnumerable<TensorSpec> specs) => new(specs.Select(s => (JsonNode)new JsonArray(
            s.Name, s.DataType, new JsonArray(s.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()))).ToArray());

        var result = Result("OK", "", "", null, null);
        result["metadata"] = new JsonObject
        {
            ["model_name"] = metadata.ModelName,
            ["version"] = metadata.Version,
            ["signature_name"] = metadata.SignatureName,
            ["inputs"] = Specs(metadata.Inputs),
            ["outputs"] = Specs(metadata.Outputs),
        };
        return result;
    }

    public static JsonObject Failed(Exception error) => error switch
    {
        ScoringException e => Result(CodeName(e.StatusCode), e.Details, e.RequestId, null, null),
        _ => Result("UNKNOWN", $"{error.GetType().Name}: {error.Message}", "", null, null),
    };

    /// <summary>The gRPC code name: <c>Unavailable</c> → <c>UNAVAILABLE</c>, <c>InvalidArgument</c> → <c>INVALID_ARGUMENT</c>.</summary>
    public static string CodeName(StatusCode code)
    {
        if (code == StatusCode.OK) return "OK";
        var name = code.ToString();
        var text = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i])) text.Append('_');
            text.Append(char.ToUpperInvariant(name[i]));
        }
        return text.ToString();
    }

    private static JsonObject Result(string code, string message, string requestId, JsonNode? shape, JsonNode? topK) => new()
    {
        ["code"] = code,
        ["message"] = message,
        ["request_id"] = requestId,
        ["shape"] = shape,
        ["top_k"] = topK,
    };
}
