using System.Text.Json;
using System.Text.Json.Nodes;
using FpgaScore.Conformance;
using FpgaScore.Tests.Infrastructure;

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

    [Theory]
    [InlineData(Grpc.Core.StatusCode.OK, "OK")]
    [InlineData(Grpc.Core.StatusCode.Unavailable, "UNAVAILABLE")]
    [InlineData(Grpc.Core.StatusCode.InvalidArgument, "INVALID_ARGUMENT")]
    [InlineData(Grpc.Core.StatusCode.DeadlineExceeded, "DEADLINE_EXCEEDED")]
    [InlineData(Grpc.Core.StatusCode.ResourceExhausted, "RESOURCE_EXHAUSTED")]
    public void CodeNamesAreGrpcs(Grpc.Core.StatusCode code, string name) => Assert.Equal(name, Results.CodeName(code));
}
