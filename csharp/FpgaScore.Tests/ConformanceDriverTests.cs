using System.Text.Json;
using System.Text.Json.Nodes;
using FpgaScore.Conformance;
using FpgaScore.Tests.Infrastructure;
using Google.Protobuf;

namespace FpgaScore.Tests;

/// <summary>The conformance driver's request handling (the runner drives it end to end).</summary>
public class ConformanceDriverTests
{
    private static async Task<JsonArray> HandleAsync(Driver driver, string json) =>
        await driver.HandleAsync(new DriverRequest(JsonDocument.Parse(json).RootElement.Clone()));

    [Fact]
    public async Task ImagesCallsAndCaseSuffixes()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var caseId = Clients.NewCase("driver");
        using var driver = new Driver();
        var results = await HandleAsync(driver, $$"""
            {"id": "x", "host": "127.0.0.1", "port": {{server.Port}}, "action": "images",
             "images": ["{{RepoPaths.Image("gradient.jpg")}}"], "calls": 3, "concurrency": 2, "top_k": 3,
             "metadata": {"X-Conformance-Case": "{{caseId}}", "x-conformance-fail": "1:UNAVAILABLE"} }
            """);
        Assert.Equal(3, results.Count);
        foreach (var result in results)
        {
            Assert.Equal("OK", (string?)result!["code"]);
            Assert.Equal("[1,1000]", result["shape"]!.ToJsonString());
            Assert.Equal(3, result["top_k"]![0]!.AsArray().Count);
            Assert.Equal(Golden.Top1("gradient.jpg"), (int)result["top_k"]![0]![0]![0]!);
        }
        for (int i = 1; i <= 3; i++)
            Assert.Equal(2, (await server.CallsAsync($"{caseId}#{i}", 2)).Count);
    }

    [Fact]
    public async Task ConstructionErrorsAndBadTensorsAreResults()
    {
        using var driver = new Driver();
        var refused = await HandleAsync(driver, """{"id": "k", "host": "127.0.0.1", "port": 1, "access_token": "k", "action": "none"}""");
        Assert.Equal("FAILED_PRECONDITION", (string?)refused[0]!["code"]);
        var ok = await HandleAsync(driver, """{"id": "n", "host": "127.0.0.1", "port": 1, "action": "none"}""");
        Assert.Equal("OK", (string?)ok[0]!["code"]);
        var tensor = Path.Combine(RunDirectory.Path, "short.f32");
        await File.WriteAllBytesAsync(tensor, new byte[12]);
        var bad = await HandleAsync(driver, $$"""{"id": "t", "host": "127.0.0.1", "port": 1, "action": "tensor", "tensor_file": "{{tensor}}", "tensor_shape": [224, 224, 3]}""");
        Assert.Equal("INVALID_ARGUMENT", (string?)bad[0]!["code"]);
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "p", "host": "h", "port": "x"}"""));
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "a", "host": "h", "port": 1, "action": "dance"}"""));
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

        string Line(string file) => $$"""{"id": "r", "host": "127.0.0.1", "port": {{server.Port}}, "action": "request", "request_file": "{{file}}", "top_k": 1}""";
        var ok = (await HandleAsync(driver, Line(good)))[0]!;
        Assert.Equal("OK", (string?)ok["code"]);
        Assert.Equal("[1,1000]", ok["shape"]!.ToJsonString());
        Assert.Equal(Golden.Top1("gradient.jpg"), (int)ok["top_k"]![0]![0]![0]!);

        var refused = (await HandleAsync(driver, Line(unknownInput)))[0]!;
        Assert.Equal("INVALID_ARGUMENT", (string?)refused["code"]);
        Assert.Contains("pixels", (string?)refused["message"]);
        Assert.Matches("^[0-9a-f]{32}$", (string?)refused["request_id"]);
    }

    [Fact]
    public async Task MetadataIsReportedAsThePythonDriverDoes()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var caseId = Clients.NewCase("driver-metadata");
        using var driver = new Driver();
        var results = await HandleAsync(driver, $$"""
            {"id": "m", "host": "127.0.0.1", "port": {{server.Port}}, "action": "metadata", "calls": 2,
             "model_name": "resnet50", "signature_name": "serving_default", "metadata": {"x-conformance-case": "{{caseId}}"} }
            """);
        Assert.Equal(2, results.Count);
        foreach (var result in results)
            Assert.Equal("""
                {"code":"OK","message":"","request_id":"","shape":null,"top_k":null,"metadata":{"model_name":"resnet50","version":1,"signature_name":"serving_default","inputs":[["images","DT_STRING",[-1]]],"outputs":[["features","DT_FLOAT",[-1,2048]],["output_alias","DT_FLOAT",[-1,1000]]]}}
                """, result!.ToJsonString());
        Assert.Equal("get_model_metadata", Assert.Single(await server.CallsAsync($"{caseId}#2", 1)).GetProperty("event").GetString());
    }

    [Fact]
    public async Task ModelAndSignatureNamesSetTheOptions()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var driver = new Driver();
        string Line(string action, string field, string value) =>
            $$"""{"id": "n", "host": "127.0.0.1", "port": {{server.Port}}, "action": "{{action}}", "images": ["{{RepoPaths.Image("gradient.jpg")}}"], "{{field}}": "{{value}}"}""";
        var model = (await HandleAsync(driver, Line("metadata", "model_name", "inception")))[0]!;
        Assert.Equal("NOT_FOUND", (string?)model["code"]);
        Assert.Contains("Latest(inception)", (string?)model["message"]);
        Assert.Matches("^[0-9a-f]{32}$", (string?)model["request_id"]);
        Assert.Null(model["metadata"]);
        var signature = (await HandleAsync(driver, Line("images", "signature_name", "classify")))[0]!;
        Assert.Equal("INVALID_ARGUMENT", (string?)signature["code"]);
        Assert.Contains("\"classify\" not found in signature def", (string?)signature["message"]);
        var described = (await HandleAsync(driver, Line("metadata", "signature_name", "classify")))[0]!;
        Assert.Equal("INTERNAL", (string?)described["code"]);
        Assert.Contains("no signature 'classify'", (string?)described["message"]);
        await Assert.ThrowsAsync<BadRequestException>(() => HandleAsync(driver, """{"id": "b", "host": "h", "port": 1, "model_name": 3}"""));
    }

    [Fact]
    public async Task MissingInputFilesAreInvalidArgumentNamingThem()
    {
        using var driver = new Driver();
        var missing = Path.Combine(RunDirectory.Path, "missing-input-file");
        foreach (var line in new[]
        {
            $$"""{"id": "i", "host": "127.0.0.1", "port": 1, "action": "images", "images": ["{{missing}}"]}""",
            $$"""{"id": "t", "host": "127.0.0.1", "port": 1, "action": "tensor", "tensor_file": "{{missing}}", "tensor_shape": [224, 224, 3]}""",
            $$"""{"id": "r", "host": "127.0.0.1", "port": 1, "action": "request", "request_file": "{{missing}}"}""",
        })
        {
            var result = (await HandleAsync(driver, line))[0]!;
            Assert.Equal("INVALID_ARGUMENT", (string?)result["code"]);
            Assert.Contains(missing, (string?)result["message"]);
        }
    }

    [Theory]
    [InlineData(Grpc.Core.StatusCode.OK, "OK")]
    [InlineData(Grpc.Core.StatusCode.Unavailable, "UNAVAILABLE")]
    [InlineData(Grpc.Core.StatusCode.InvalidArgument, "INVALID_ARGUMENT")]
    [InlineData(Grpc.Core.StatusCode.DeadlineExceeded, "DEADLINE_EXCEEDED")]
    [InlineData(Grpc.Core.StatusCode.ResourceExhausted, "RESOURCE_EXHAUSTED")]
    public void CodeNamesAreGrpcs(Grpc.Core.StatusCode code, string name) => Assert.Equal(name, Results.CodeName(code));
}
