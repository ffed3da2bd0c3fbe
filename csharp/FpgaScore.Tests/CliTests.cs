using System.Text.Json;
using FpgaScore.Cli;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>The <c>fpgascore score</c> command.</summary>
public class CliTests
{
    [Fact]
    public void ArgumentsParse()
    {
        var args = CliArguments.Parse(["--host", "h", "--port", "443", "--ca", "ca.pem", "--key-env", "K", "--json", "a.jpg", "b.png"]);
        Assert.Equal("h", args.Host);
        Assert.Equal(443, args.Port);
        Assert.True(args.Ssl);
        Assert.Equal("ca.pem", args.CaFile);
        Assert.Equal("K", args.KeyEnv);
        Assert.True(args.Json);
        Assert.Equal(["a.jpg", "b.png"], args.Images);
        Assert.Throws<ArgumentException>(() => CliArguments.Parse(["--port", "x", "a.jpg"]));
        Assert.Throws<ArgumentException>(() => CliArguments.Parse(["--host", "h"]));
        Assert.Throws<ArgumentException>(() => CliArguments.Parse(["--nope", "a.jpg"]));
    }

    [Fact]
    public async Task PrintsTheTopFiveWithLabels()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var image = RepoPaths.Image("gradient.jpg");
        var code = await ScoreCommand.RunAsync(CliArguments.Parse(["--host", "127.0.0.1", "--port", server.Port.ToString(), image]), stdout, stderr);
        Assert.Equal(0, code);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        Assert.Equal(image, lines[0]);
        var top = Golden.Top5("gradient.jpg")[0];
        Assert.Contains($"{top.ClassId}  {ImageNetLabels.Get(top.ClassId)}", lines[1]);
    }

    [Fact]
    public async Task PrintsJsonOverTlsWithAKeyFromTheEnvironment()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        var variable = "FPGASCORE_CLI_TEST_KEY_" + Guid.NewGuid().ToString("N")[..6];
        Environment.SetEnvironmentVariable(variable, Servers.PrimaryKey);
        try
        {
            var stdout = new StringWriter();
            var code = await ScoreCommand.RunAsync(CliArguments.Parse([
                "--host", "localhost", "--port", server.Port.ToString(), "--ca", Servers.Pki.CaFile, "--key-env", variable, "--json",
                RepoPaths.Image("gradient.jpg"), RepoPaths.Image("rings.jpg"),
            ]), stdout, new StringWriter());
            Assert.Equal(0, code);
            using var json = JsonDocument.Parse(stdout.ToString());
            Assert.Matches("^[0-9a-f]{32}$", json.RootElement.GetProperty("request_id").GetString());
            var results = json.RootElement.GetProperty("results");
            Assert.Equal(2, results.GetArrayLength());
            Assert.Equal(5, results[1].GetProperty("top_k").GetArrayLength());
            Assert.Equal(Golden.Top1("rings.jpg"), results[1].GetProperty("top_k")[0].GetProperty("class_id").GetInt32());
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task ErrorsGoToStderrWithExitCodeOne()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var stderr = new StringWriter();
        var code = await ScoreCommand.RunAsync(CliArguments.Parse(
            ["--host", "127.0.0.1", "--port", server.Port.ToString(), RepoPaths.Image("corrupt.jpg")]), new StringWriter(), stderr);
        Assert.Equal(1, code);
        Assert.Contains("InvalidArgument", stderr.ToString());
        Assert.Contains("request-id", stderr.ToString());
    }
}
