using FpgaScore.Tests.Infrastructure;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>
/// What the client checks in an answer: no NaN or infinite score (<c>Internal</c> naming the first one), negative
/// finite scores passed through, and one response size limit (<see cref="ScoringClientOptions.MaxResponseBytes"/>,
/// 16 MiB by default; over it <c>ResourceExhausted</c>).
/// </summary>
public class AnswerTests
{
    private const int MiB = 1 << 20;

    private static PredictResponse Answer(float[] values, int rows, bool floatVal)
    {
        var tensor = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Tensors.Shape([rows, values.Length / rows]) };
        if (floatVal) tensor.FloatVal.AddRange(values);
        else tensor.TensorContent = Tensors.LittleEndianBytes(values);
        var response = new PredictResponse();
        response.Outputs.Add("output_alias", tensor);
        return response;
    }

    [Theory]
    [InlineData(float.NaN, "NaN", false)]
    [InlineData(float.PositiveInfinity, "+Inf", false)]
    [InlineData(float.NegativeInfinity, "-Inf", true)]
    [InlineData(float.NaN, "NaN", true)]
    public void ANonFiniteScoreIsInternalNamingItsImageAndClass(float value, string name, bool floatVal)
    {
        var values = new float[2000];
        values[1999] = value;
        values[1500] = float.NaN; // the first one, named; the other is counted
        var error = Assert.Throws<ScoringException>(() => Scores.Decode(Answer(values, 2, floatVal)));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("has a non-finite score (NaN) at image 1, class 500 (2 of 2000 scores are not finite)", error.Details);
        values[1500] = 0;
        error = Assert.Throws<ScoringException>(() => Scores.Decode(Answer(values, 2, floatVal), expectedRows: 2));
        Assert.Contains($"({name}) at image 1, class 999 (1 of 2000", error.Details);
        Assert.True(error.Details.Length < 200);
    }

    [Fact]
    public void NegativeAndUnnormalisedScoresPassThrough()
    {
        float[] values = [-7.5f, 0f, 3e38f, -3e38f, 1e-45f, -0.25f];
        foreach (var floatVal in new[] { false, true })
            Assert.Equal(values, Scores.Decode(Answer(values, 2, floatVal), expectedColumns: 3).Values);
    }

    [Fact]
    public void MaxResponseBytesMustBePositive()
    {
        Assert.Equal(16 * MiB, new ScoringClientOptions().MaxResponseBytes);
        foreach (var bad in new[] { 0, -1 })
        {
            var error = Assert.Throws<ScoringException>(() => new ScoringClient(new ScoringClientOptions { MaxResponseBytes = bad }));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("MaxResponseBytes", error.Details);
        }
    }

    [Theory]
    [InlineData("nan", "(NaN) at image 0, class 0")]
    [InlineData("-inf@1,999", "(-Inf) at image 1, class 999")]
    public async Task ANonFiniteAnswerIsInternalWithTheRequestId(string control, string message)
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("non-finite");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[,]>(
            new ImageRequest(Clients.ImageBytes("gradient.jpg"), Clients.ImageBytes("rings.jpg")),
            Clients.Case(caseId, ("x-conformance-scores", control))));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains(message, error.Details);
        var calls = await server.CallsAsync(caseId, 1);
        Assert.Single(calls);
        Assert.Equal(calls[0].GetProperty("request_id").GetString(), error.RequestId);
    }

    [Fact]
    public async Task NegativeScoresArePassedThroughAsTheServerComputedThem()
    {
        using var client = await Clients.PlainAsync();
        var image = new ImageRequest(Clients.ImageBytes("rings.jpg"));
        var honest = await client.ScoreAsync<float[]>(image);
        var negative = await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes("rings.jpg")),
            Clients.Case(Clients.NewCase("negative"), ("x-conformance-scores", "negative")));
        Assert.All(negative, v => Assert.True(v < 0));
        Assert.Equal(honest.Select(v => v - 2f), negative);
    }

    private static Metadata Pad(string caseId, int bytes) =>
        Clients.Case(caseId, ("x-conformance-pad-response-bytes", bytes.ToString()));

    [Fact]
    public async Task ResponsesUpToTheLimitAreReadAndLargerOnesAreResourceExhausted()
    {
        var plain = await Servers.GetAsync(ServerKind.Plain);
        using (var client = Clients.For(plain))
            Assert.Equal(1000, (await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Pad(Clients.NewCase("15mib"), 15 * MiB))).Length);
        using (var client = Clients.For(plain, o => o.MaxResponseBytes = MiB))
        {
            var caseId = Clients.NewCase("over");
            var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreWithDetailsAsync<float[]>(
                new ImageRequest(Clients.ImageBytes()), Pad(caseId, MiB)));
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.Contains("Received message exceeds the maximum configured message size", error.Details);
            await Task.Delay(300);
            Assert.Single(plain.Calls(caseId)); // not retried: the same answer would come back
        }
        var large = await Servers.GetAsync(ServerKind.LargeAnswers);
        using (var client = Clients.For(large))
        {
            var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
                new ImageRequest(Clients.ImageBytes()), Pad(Clients.NewCase("16mib"), 16 * MiB)));
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        }
        using (var client = Clients.For(large, o => o.MaxResponseBytes = 17 * MiB))
            Assert.Equal(1000, (await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Pad(Clients.NewCase("raised"), 16 * MiB))).Length);
    }
}
