using FpgaScore.Tests.Infrastructure;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Scoring against the reference server: encodings, batches, tensors, bad inputs, request ids.</summary>
public class ScoringTests
{
    private static Metadata Encoding(string encoding) =>
        Clients.Case(Clients.NewCase("encoding"), ("x-conformance-encoding", encoding));

    [Fact]
    public async Task TopFiveMatchesTheGoldenScores()
    {
        using var client = await Clients.PlainAsync();
        foreach (var image in new[] { "gradient.jpg", "checkerboard.png", "rings.jpg", "tiny-noise.png" })
        {
            var scores = await client.ScoreAsync<float[]>(ImageRequest.FromFiles(RepoPaths.Image(image)));
            var top = Predictions.TopK(scores, 5);
            var golden = Golden.Top5(image);
            Assert.Equal(golden.Select(g => g.ClassId), top.Select(p => p.ClassId));
            for (int i = 0; i < 5; i++) Assert.Equal(golden[i].Score, top[i].Score, 4);
        }
    }

    [Fact]
    public async Task BothOutputEncodingsGiveTheSameFloats()
    {
        using var client = await Clients.PlainAsync();
        var request = new ImageRequest(Clients.ImageBytes());
        var content = await client.ScoreAsync<float[]>(request, Encoding("tensor_content"));
        var floatVal = await client.ScoreAsync<float[]>(request, Encoding("float_val"));
        Assert.Equal(content, floatVal);

        var response = await client.PredictAsync(request.BuildRequest(RequestSettings.Default), Encoding("float_val"));
        var output = response.Outputs["output_alias"];
        Assert.True(output.TensorContent.IsEmpty);
        Assert.Equal(1000, output.FloatVal.Count);
    }

    [Fact]
    public async Task ABatchScoresOneRowPerImage()
    {
        using var client = await Clients.PlainAsync();
        string[] images = ["gradient.jpg", "rings.jpg", "checkerboard.png"];
        var streams = images.Select(i => (Stream)File.OpenRead(RepoPaths.Image(i))).ToArray();
        float[,] result;
        try
        {
            result = client.Score<float[,]>(new ImageRequest(streams));
        }
        finally
        {
            foreach (var s in streams) s.Dispose();
        }
        Assert.Equal(3, result.GetLength(0));
        Assert.Equal(1000, result.GetLength(1));
        var rows = Predictions.TopK(result, 1);
        for (int i = 0; i < images.Length; i++) Assert.Equal(Golden.Top1(images[i]), rows[i][0].ClassId);

        var jagged = await client.ScoreAsync<float[][]>(ImageRequest.FromFiles(images.Select(RepoPaths.Image).ToArray()));
        Assert.Equal(3, jagged.Length);
        Assert.Equal(result[2, 17], jagged[2][17]);
    }

    [Fact]
    public async Task AFloatTensorIsScored()
    {
        using var client = await Clients.PlainAsync();
        var values = new float[2 * 224 * 224 * 3];
        for (int i = 0; i < values.Length; i++) values[i] = (i % 255) / 255f;
        var result = await client.ScoreWithDetailsAsync<float[,]>(new FloatRequest(values, 2, 224, 224, 3));
        Assert.Equal([2L, 1000], result.Shape);
        Assert.Equal(1.0, Enumerable.Range(0, 1000).Sum(c => (double)result.Scores[0, c]), 2);
    }

    [Fact]
    public async Task ACorruptImageIsInvalidArgumentWithTheRequestId()
    {
        using var client = await Clients.PlainAsync();
        var caseId = Clients.NewCase("corrupt");
        var error = await Assert.ThrowsAsync<ScoringException>(() =>
            client.ScoreAsync<float[]>(ImageRequest.FromFiles(RepoPaths.Image("corrupt.jpg")), Clients.Case(caseId)));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        Assert.Contains(error.RequestId, error.Message);
        var call = Assert.Single(await (await Servers.GetAsync(ServerKind.Plain)).CallsAsync(caseId, 1));
        Assert.Equal(error.RequestId, call.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task TheRequestIdOfASuccessIsReturned()
    {
        using var client = await Clients.PlainAsync();
        var caseId = Clients.NewCase("request-id");
        var result = await client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Clients.Case(caseId));
        var call = Assert.Single(await (await Servers.GetAsync(ServerKind.Plain)).CallsAsync(caseId, 1));
        Assert.Equal(call.GetProperty("request_id").GetString(), result.RequestId);
        Assert.Equal(1, result.Attempts);
    }

    [Fact]
    public async Task FloatArrayForABatchAndUnsupportedTypesAreRefusedWithoutACall()
    {
        using var client = await Clients.PlainAsync();
        var caseId = Clients.NewCase("float-array-batch");
        var error = await Assert.ThrowsAsync<ScoringException>(() =>
            client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes(), Clients.ImageBytes("rings.jpg")), Clients.Case(caseId)));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("float[,]", error.Message);
        Assert.Equal("", error.RequestId);
        Assert.Empty(await (await Servers.GetAsync(ServerKind.Plain)).CallsAsync(caseId, 0));
        var unsupported = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<int[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal("", unsupported.RequestId);
    }

    [Fact]
    public async Task AnUnknownOutputNameIsAskedForAndRefusedByTheServer()
    {
        // A custom output name goes in output_filter; the server refuses a name it does not know.
        using var client = await Clients.PlainAsync(o => o.OutputName = "no_such_output");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("no_such_output", error.Message);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
    }

    [Fact]
    public async Task ACustomOutputNameIsRequestedInTheOutputFilter()
    {
        // "features" is only returned when asked for; it is [1,2048], so decoding it as scores is Internal,
        // naming the width: proof that the server was asked for it (without the filter: "no output 'features'").
        using var client = await Clients.PlainAsync(o => o.OutputName = "features");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("[1,2048]", error.Message);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
    }

    [Fact]
    public async Task PredictFillsAMissingModelSpecAndLeavesTheCallersRequestAlone()
    {
        // The server serves only resnet50 (NOT_FOUND naming any other model), so the error names the model sent.
        using var client = await Clients.PlainAsync(o => o.ModelName = "inception");
        var request = new PredictRequest();
        request.Inputs.Add("images", new ImageRequest(Clients.ImageBytes()).BuildRequest(RequestSettings.Default).Inputs["images"]);
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.PredictAsync(request));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("Latest(inception)", error.Details);
        Assert.Null(request.ModelSpec);

        request.ModelSpec = new ModelSpec { Name = "resnet50" };
        var response = await client.PredictAsync(request);
        Assert.Equal("resnet50", response.ModelSpec.Name);
        Assert.Equal(1L, response.ModelSpec.Version);
        Assert.Equal("serving_default", response.ModelSpec.SignatureName);
        Assert.Equal([1L, 1000], Scores.Decode(response, expectedRows: 1).Shape);
        Assert.Equal("resnet50", request.ModelSpec.Name);
    }

    [Fact]
    public async Task ACustomRequestIsSent()
    {
        using var client = await Clients.PlainAsync();
        var scores = await client.ScoreAsync<float[]>(new FeaturesAndScores(Clients.ImageBytes()));
        Assert.Equal(1000, scores.Length);
    }

    [Fact]
    public async Task ConcurrentCallsShareOneClient()
    {
        using var client = await Clients.PlainAsync(o => o.Metadata = new Metadata { { "x-test-client", "concurrent" } });
        var request = new ImageRequest(Clients.ImageBytes());
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.ScoreAsync<float[]>(request)));
        Assert.All(results, r => Assert.Equal(results[0], r));
    }

    [Fact]
    public async Task ADisposedClientRefusesCalls()
    {
        var client = await Clients.PlainAsync();
        client.Dispose();
        client.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
    }

    /// <summary>A custom request: asks for both outputs with an output filter.</summary>
    private sealed class FeaturesAndScores(byte[] image) : IScoringRequest
    {
        public PredictRequest BuildRequest(RequestSettings settings)
        {
            var request = new ImageRequest(image).BuildRequest(settings);
            request.OutputFilter.Add("output_alias");
            request.OutputFilter.Add("features");
            return request;
        }
    }
}
