using System.Buffers.Binary;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>The call one request line makes, built from its action.</summary>
internal static class Work
{
    public delegate Task<ScoringResult<float[,]>> Call(ScoringClient client, Metadata headers);

    public static Call? For(DriverRequest request, string action) => action switch
    {
        "none" => null,
        "images" => Images(request.Strings("images")),
        "tensor" => Tensor(request),
        "request" => FromFile(request.String("request_file") ?? throw new BadRequestException("action 'request' needs 'request_file'")),
        _ => throw new BadRequestException("'action' must be one of images, tensor, request, none"),
    };

    private static Call Images(IReadOnlyList<string> paths) =>
        (client, headers) => client.ScoreWithDetailsAsync<float[,]>(ImageRequest.FromFiles(paths.ToArray()), headers);

    private static Call Tensor(DriverRequest request)
    {
        var file = request.String("tensor_file");
        var shapeJson = request.Array("tensor_shape");
        if (file is null || shapeJson is null) throw new BadRequestException("action 'tensor' needs 'tensor_file' and 'tensor_shape'");
        var shape = shapeJson.Value.EnumerateArray()
            .Select(d => d.TryGetInt64(out var n) ? n : throw new BadRequestException("'tensor_shape' must be a list of integers")).ToArray();
        return (client, headers) =>
        {
            var bytes = File.ReadAllBytes(file);
            var values = new float[bytes.Length / sizeof(float)];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            return client.ScoreWithDetailsAsync<float[,]>(new FloatRequest(values, shape), headers);
        };
    }

    private static Call FromFile(string path) => (client, headers) =>
        client.ScoreWithDetailsAsync<float[,]>(new StoredRequest(PredictRequest.Parser.ParseFrom(File.ReadAllBytes(path))), headers);

    /// <summary>A stored request's inputs and output filter, sent with the client's own model spec.</summary>
    private sealed class StoredRequest(PredictRequest stored) : IScoringRequest
    {
        public PredictRequest BuildRequest(RequestSettings settings)
        {
            var request = new PredictRequest
            {
                ModelSpec = new ModelSpec { Name = settings.ModelName, SignatureName = settings.SignatureName },
            };
            request.Inputs.Add(stored.Inputs);
            request.OutputFilter.Add(stored.OutputFilter);
            return request;
        }
    }
}
