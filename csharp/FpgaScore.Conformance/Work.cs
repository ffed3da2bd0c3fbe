using System.Buffers.Binary;
using FpgaScore.V1;
using Google.Protobuf;
using Grpc.Core;
using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Conformance;

/// <summary>The call one request line makes, built from its action.</summary>
internal static class Work
{
    /// <summary>One call; its result object (<see cref="Results"/>). A failure is thrown.</summary>
    public delegate Task<Dp.CallResult> Call(ScoringClient client, Metadata headers, CancellationToken cancel);

    private delegate Task<ScoringResult<float[,]>> Scoring(ScoringClient client, Metadata headers, CancellationToken cancel);

    /// <param name="request">The request line.</param>
    /// <param name="k">The top-k of a scoring result.</param>
    public static Call? For(Dp.DriverRequest request, int k) => request.Action switch
    {
        Dp.Action.None => null,
        Dp.Action.Images => Scored(Images(request.Images.ToArray()), k),
        Dp.Action.Tensor => Scored(Tensor(request), k),
        Dp.Action.Request => Scored(FromFile(request.RequestFile.Length > 0 ? request.RequestFile : throw new BadRequestException("ACTION_REQUEST needs 'request_file'")), k),
        Dp.Action.Metadata => async (client, headers, cancel) => Results.Ok(await client.GetModelMetadataAsync(headers, null, cancel)),
        var other => throw new BadRequestException($"'action' must be one of ACTION_IMAGES, ACTION_TENSOR, ACTION_REQUEST, ACTION_METADATA, ACTION_NONE, not {other}"),
    };

    private static Call Scored(Scoring scoring, int k) => async (client, headers, cancel) => Results.Ok(await scoring(client, headers, cancel), k);

    private static Scoring Images(string[] paths) =>
        (client, headers, cancel) => client.ScoreWithDetailsAsync<float[,]>(ImageRequest.FromFiles(paths), headers, null, cancel);

    private static Scoring Tensor(Dp.DriverRequest request)
    {
        var file = request.TensorFile;
        if (file.Length == 0 || request.TensorShape.Count == 0) throw new BadRequestException("ACTION_TENSOR needs 'tensor_file' and 'tensor_shape'");
        var shape = request.TensorShape.Select(d => (long)d).ToArray();
        return (client, headers, cancel) =>
        {
            var bytes = ReadFile(file);
            var values = new float[bytes.Length / sizeof(float)];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            return client.ScoreWithDetailsAsync<float[,]>(new FloatRequest(values, shape), headers, null, cancel);
        };
    }

    /// <summary>
    /// The stored request's inputs and output filter, sent with the low-level <see cref="ScoringClient.PredictAsync"/>
    /// (which gives a request without model_spec the client's own), then decoded as <c>output_alias</c>.
    /// </summary>
    private static Scoring FromFile(string path) => async (client, headers, cancel) =>
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
        var response = await client.PredictAsync(request, headers, null, cancel);
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
