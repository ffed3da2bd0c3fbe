using System.Buffers.Binary;
using System.Text.Json.Nodes;
using FpgaScore.V1;
using Google.Protobuf;
using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>The call one request line makes, built from its action.</summary>
internal static class Work
{
    /// <summary>One call; its result object (<see cref="Results"/>). A failure is thrown.</summary>
    public delegate Task<JsonObject> Call(ScoringClient client, Metadata headers);

    private delegate Task<ScoringResult<float[,]>> Scoring(ScoringClient client, Metadata headers);

    /// <param name="request">The request line.</param>
    /// <param name="action">Its action.</param>
    /// <param name="k">The top-k of a scoring result.</param>
    public static Call? For(DriverRequest request, string action, int k) => action switch
    {
        "none" => null,
        "images" => Scored(Images(request.Strings("images")), k),
        "tensor" => Scored(Tensor(request), k),
        "request" => Scored(FromFile(request.String("request_file") ?? throw new BadRequestException("action 'request' needs 'request_file'")), k),
        "metadata" => async (client, headers) => Results.Ok(await client.GetModelMetadataAsync(headers)),
        _ => throw new BadRequestException("'action' must be one of images, tensor, request, metadata, none"),
    };

    private static Call Scored(Scoring scoring, int k) => async (client, headers) => Results.Ok(await scoring(client, headers), k);

    private static Scoring Images(IReadOnlyList<string> paths) =>
        (client, headers) => client.ScoreWithDetailsAsync<float[,]>(ImageRequest.FromFiles(paths.ToArray()), headers);

    private static Scoring Tensor(DriverRequest request)
    {
        var file = request.String("tensor_file");
        var shapeJson = request.Array("tensor_shape");
        if (file is null || shapeJson is null) throw new BadRequestException("action 'tensor' needs 'tensor_file' and 'tensor_shape'");
        var shape = shapeJson.Value.EnumerateArray()
            .Select(d => d.TryGetInt64(out var n) ? n : throw new BadRequestException("'tensor_shape' must be a list of integers")).ToArray();
        return (client, headers) =>
        {
            var bytes = ReadFile(file);
            var values = new float[bytes.Length / sizeof(float)];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            return client.ScoreWithDetailsAsync<float[,]>(new FloatRequest(values, shape), headers);
        };
    }

    /// <summary>
    /// The stored request's inputs and output filter, sent with the low-level <see cref="ScoringClient.PredictAsync"/>
    /// (which gives a request without model_spec the client's own), then decoded as <c>output_alias</c>.
    /// </summary>
    private static Scoring FromFile(string path) => async (client, headers) =>
    {
        PredictRequest stored;
        try
        {
            stored = PredictRequest.Parser.ParseFrom(ReadFile(path));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ScoringException(StatusCode.InvalidArgument, $"'{path}' is not a PredictRequest: {e.Message}");
        }
        var request = new PredictRequest();
        request.Inputs.Add(stored.Inputs);
        request.OutputFilter.Add(stored.OutputFilter);
        var response = await client.PredictAsync(request, headers);
        var (values, shape) = Scores.Decode(response);
        return new ScoringResult<float[,]>(Scores.Convert<float[,]>(values, shape), shape, "", 0);
    };

    /// <summary>A file's bytes; one that cannot be read is INVALID_ARGUMENT naming it (a bad input, like an empty image).</summary>
    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScoringException(StatusCode.InvalidArgument, $"cannot read '{path}': {e.Message}");
        }
    }
}
