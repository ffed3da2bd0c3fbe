using FpgaScore.Conformance;
using FpgaScore.Tests.Infrastructure;
using Google.Protobuf;
using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Tests;

/// <summary>The conformance driver's request handling (the runner drives it end to end).</summary>
public class ConformanceDriverTests
{
    private static async Task<IReadOnlyList<Dp.CallResult>> HandleAsync(Driver driver, string json) =>
        await driver.HandleAsync(Protocol.Parse<Dp.DriverRequest>(json));

    private static string Json(IMessage message) => Protocol.Formatter.Format(message);

    [Fact]
    public async Task ImagesCallsAndCaseSuffixes()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var caseId = Clients.NewCase("driver");
        using var driver = new Driver();
        var results = await HandleAsync(driver, $$"""
            {"id": "x", "host": "127.0.0.1", "port": {{server.Port}}, "action": "ACTION_IMAGES",
             "images": ["{{RepoPaths.Image("gradient.jpg")}}"], "calls": 3, "concurrency": 2, "topK": 3,
             "metadata": {"X-Conformance-Case": "{{caseId}}", "x-conformance-fail": "1:UNAVAILABLE"} }
            """);
        Assert.Equal(3, results.Count);
        foreach (var result in results)
        {
            Assert.Equal(Dp.Code.Ok, result.Code);
            Assert.Equal([1, 1000], result.Shape);
            Assert.Equal(3, result.TopK[0].Predictions.Count);
            Assert.Equal(Golden.Top1("gradient.jpg"), result.TopK[0].Predictions[0].ClassId);
        }
        for (int i = 1; i <= 3; i++)
            Assert.Equal(2, (await server.CallsAsync($"{caseId}#{i}", 2)).Count);
    }

    [Fact]
    public async Task ConstructionErrorsAndBadTensorsAreResults()
    {
        using var driver = new Driver();
        var refused = await HandleAsync(driver, """{"id": "k", "host": "127.0.0.1", "port": 1, "access_token": "k", "action": "ACTION_NONE"}""");
        Assert.Equal(Dp.Code.FailedPrecondition, refused[0].Code);
        var ok = await HandleAsync(driver, """{"id": "n", "host": "127.0.0.1", "port": 1, "action": "ACTION_NONE"}""");
        Assert.Equal(Dp.Code.Ok, ok[0].Code);
        var tensor = Path.Combine(RunDirectory.Path, "short.f32");
        await File.WriteAllBytesAsync(tensor, new byte[12]);
        var bad = await HandleAsync(driver, $$"""{"id": "t", "host": "127.0.0.1", "port": 1, "action": "ACTION_TENSOR", "tensor_file": "{{tensor}}", "tensor_shape": [224, 224, 3]}""");
        Assert.Equal(Dp.Code.InvalidArgument, bad[0].Code);
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "p", "host": "h", "port": "x"}"""));
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "a", "host": "h", "port": 1, "action": "ACTION_UNSPECIFIED"}"""));
    }

    [Fact]
    public async Task AnswersAreCanonicalJsonAndBadLinesAreErrors()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var driver = new Driver();
        // proto field names, a number for an enum, a field this version does not know
        var answer = await driver.AnswerAsync($$"""{"id": "j", "host": "127.0.0.1", "port": {{server.Port}}, "action": 1, "images": ["{{RepoPaths.Image("gradient.jpg")}}"], "top_k": 1, "fieldFromTheFuture": [1] }""");
        Assert.Equal("", answer.Error);
        var json = Json(answer);
        Assert.StartsWith("""{ "id": "j", "results": [ { "requestId": """, json);
        Assert.Contains("\"topK\": [ { \"predictions\": [ { \"classId\": ", json);
        Assert.DoesNotContain("\n", json);
        Assert.Equal(answer, Protocol.Parse<Dp.DriverAnswer>(json));

        var broken = await driver.AnswerAsync("""{"id": "b", "host": """);
        Assert.True(broken.Error.StartsWith("bad request: ") && broken.Results.Count == 0, broken.ToString());
        var noAction = await driver.AnswerAsync("""{"id": "u", "host": "h", "port": 1}""");
        Assert.Equal("u", noAction.Id);
        Assert.StartsWith("bad request: ", noAction.Error);

        var hello = Protocol.HelloAnswer();
        Assert.Equal(("1.1", "csharp", "FpgaScore"), (hello.ProtocolVersion, hello.Language, hello.Client));
        Assert.Matches(@"^\d+\.\d+\.\d+$", hello.ClientVersion);
    }

    [Fact]
    public async Task RequestFilesAreSentWithTheLowLevelCall()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var driver = new Driver();
        var stored = new ImageRequest(Clients.ImageBytes()).BuildRequest(RequestSettings.Default);
        stored.ModelSpec = null; // the low-level call fills in the client's own
        var good = Path.Combine(RunDirectory.Path, $"good-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(good, stored.ToByteArray());
        var renamed = stored.Clone();
        renamed.Inputs.Add("pixels", renamed.Inputs["images"]);
        renamed.Inputs.Remove("images");
        var unknownInput = Path.Combine(RunDirectory.Path, $"unknown-input-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(unknownInput, renamed.ToByteArray());

        string Line(string file) => $$"""{"id": "r", "host": "127.0.0.1", "port": {{server.Port}}, "action": "ACTION_REQUEST", "requestFile": "{{file}}", "topK": 1}""";
        var ok = (await HandleAsync(driver, Line(good)))[0];
        Assert.Equal(Dp.Code.Ok, ok.Code);
        Assert.Equal([1, 1000], ok.Shape);
        Assert.Equal(Golden.Top1("gradient.jpg"), ok.TopK[0].Predictions[0].ClassId);

        var refused = (await HandleAsync(driver, Line(unknownInput)))[0];
        Assert.Equal(Dp.Code.InvalidArgument, refused.Code);
        Assert.Contains("pixels", refused.Message);
        Assert.Matches("^[0-9a-f]{32}$", refused.RequestId);
    }

    [Fact]
    public async Task MetadataIsReportedAsThePythonDriverDoes()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var caseId = Clients.NewCase("driver-metadata");
        using var driver = new Driver();
        var results = await HandleAsync(driver, $$"""
            {"id": "m", "host": "127.0.0.1", "port": {{server.Port}}, "action": "ACTION_METADATA", "calls": 2,
             "modelName": "resnet50", "signatureName": "serving_default", "metadata": {"x-conformance-case": "{{caseId}}"} }
            """);
        Assert.Equal(2, results.Count);
        foreach (var result in results)
            Assert.Equal("""
                { "metadata": { "modelName": "resnet50", "version": "1", "signatureName": "serving_default", "inputs": [ { "name": "images", "dtype": "DT_STRING", "shape": [ -1 ] } ], "outputs": [ { "name": "features", "dtype": "DT_FLOAT", "shape": [ -1, 2048 ] }, { "name": "output_alias", "dtype": "DT_FLOAT", "shape": [ -1, 1000 ] } ] } }
                """, Json(result));
        Assert.Equal("get_model_metadata", Assert.Single(await server.CallsAsync($"{caseId}#2", 1)).GetProperty("event").GetString());
    }

    [Fact]
    public async Task ModelAndSignatureNamesSetTheOptions()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var driver = new Driver();
        string Line(string action, string field, string value) =>
            $$"""{"id": "n", "host": "127.0.0.1", "port": {{server.Port}}, "action": "{{action}}", "images": ["{{RepoPaths.Image("gradient.jpg")}}"], "{{field}}": "{{value}}"}""";
        var model = (await HandleAsync(driver, Line("ACTION_METADATA", "model_name", "inception")))[0];
        Assert.Equal(Dp.Code.NotFound, model.Code);
        Assert.Contains("Latest(inception)", model.Message);
        Assert.Matches("^[0-9a-f]{32}$", model.RequestId);
        Assert.Null(model.Metadata);
        var signature = (await HandleAsync(driver, Line("ACTION_IMAGES", "signature_name", "classify")))[0];
        Assert.Equal(Dp.Code.InvalidArgument, signature.Code);
        Assert.Contains("\"classify\" not found in signature def", signature.Message);
        var described = (await HandleAsync(driver, Line("ACTION_METADATA", "signatureName", "classify")))[0];
        Assert.Equal(Dp.Code.Internal, described.Code);
        Assert.Contains("no signature 'classify'", described.Message);
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "b", "host": "h", "port": 1, "model_name": 3}"""));
    }

    [Fact]
    public async Task MissingInputFilesAreInvalidArgumentNamingThem()
    {
        using var driver = new Driver();
        var missing = Path.Combine(RunDirectory.Path, "missing-input-file");
        foreach (var line in new[]
        {
            $$"""{"id": "i", "host": "127.0.0.1", "port": 1, "action": "ACTION_IMAGES", "images": ["{{missing}}"]}""",
            $$"""{"id": "t", "host": "127.0.0.1", "port": 1, "action": "ACTION_TENSOR", "tensor_file": "{{missing}}", "tensor_shape": [224, 224, 3]}""",
            $$"""{"id": "r", "host": "127.0.0.1", "port": 1, "action": "ACTION_REQUEST", "request_file": "{{missing}}"}""",
        })
        {
            var result = (await HandleAsync(driver, line))[0];
            Assert.Equal(Dp.Code.InvalidArgument, result.Code);
            Assert.Contains(missing, result.Message);
        }
    }

    [Theory]
    [InlineData(Grpc.Core.StatusCode.OK, "OK")]
    [InlineData(Grpc.Core.StatusCode.Unavailable, "UNAVAILABLE")]
    [InlineData(Grpc.Core.StatusCode.InvalidArgument, "INVALID_ARGUMENT")]
    [InlineData(Grpc.Core.StatusCode.DeadlineExceeded, "DEADLINE_EXCEEDED")]
    [InlineData(Grpc.Core.StatusCode.ResourceExhausted, "RESOURCE_EXHAUSTED")]
    [InlineData(Grpc.Core.StatusCode.Unauthenticated, "UNAUTHENTICATED")]
    public void CodesAreGrpcsByNameInJson(Grpc.Core.StatusCode code, string name) =>
        Assert.Equal($$"""{ "code": "{{name}}" }""", Json(new Dp.CallResult { Code = Results.CodeOf(code) }).Replace("{ }", $$"""{ "code": "OK" }"""));
}
