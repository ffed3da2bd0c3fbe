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
        Assert.Equal(8, args.BatchSize);
        Assert.Equal(3, CliArguments.Parse(["--batch-size", "3", "a.jpg"]).BatchSize);
        Assert.Throws<ArgumentException>(() => CliArguments.Parse(["--batch-size", "0", "a.jpg"]));
        // Flags after the image paths; --top-k as --top; the timeout in seconds, a decimal, positive.
        var after = CliArguments.Parse(["a.jpg", "--top-k", "3", "b.jpg", "--timeout", "0.001", "--server-name", "n"]);
        Assert.Equal(["a.jpg", "b.jpg"], after.Images);
        Assert.Equal(3, after.Top);
        Assert.Equal(0.001, after.TimeoutSeconds);
        Assert.True(after.Ssl);
        Assert.Equal("127.0.0.1", after.Host);
        foreach (var timeout in new[] { "0", "-1", "NaN", "Infinity", "10s" })
            Assert.Throws<ArgumentException>(() => CliArguments.Parse(["--timeout", timeout, "a.jpg"]));
        Assert.Throws<ArgumentException>(() => CliArguments.Parse(["-x", "a.jpg"]));
        var inline = CliArguments.Parse(["--timeout=2.5", "--top-k=2", "a.jpg", "--", "--x=y"]);
        Assert.Equal((2.5, 2), (inline.TimeoutSeconds, inline.Top));
        Assert.Equal(["a.jpg", "--x=y"], inline.Images);
        Assert.True(CliArguments.Parse(["--help"]).Help);
        Assert.True(CliArguments.Parse(["--version"]).Version);
    }

    [Fact]
    public async Task AKeyWithoutTlsIsAUsageErrorNamingTheFlags()
    {
        var variable = "FPGASCORE_CLI_TEST_KEY_" + Guid.NewGuid().ToString("N")[..6];
        Environment.SetEnvironmentVariable(variable, "k");
        try
        {
            var stderr = new StringWriter();
            var code = await ScoreCommand.RunAsync(CliArguments.Parse(["--port", "1", "--key-env", variable, "a.jpg"]), new StringWriter(), stderr);
            Assert.Equal(2, code);
            Assert.Contains("--allow-insecure-key", stderr.ToString());
            Assert.Contains("--ssl", stderr.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task AMissingImageIsAnInputFailure()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var image = RepoPaths.Image("gradient.jpg");
        var missing = Path.Combine(RunDirectory.Path, "missing-" + Guid.NewGuid().ToString("N")[..8] + ".jpg");
        var (code, stdout, stderr) = await RunAsync(server, ["--json", image, missing, image]);
        Assert.Equal(1, code);
        Assert.Contains("no such file", stderr);
        using var json = JsonDocument.Parse(stdout);
        var results = json.RootElement.GetProperty("results");
        Assert.Equal(1, results.GetArrayLength());
        Assert.Equal(missing, results[0].GetProperty("image").GetString());
        Assert.Equal("INVALID_ARGUMENT", results[0].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("not_scored").GetArrayLength());
    }

    [Fact]
    public void VersionIsTheRepositoryVersion()
    {
        var version = File.ReadAllText(Path.Combine(RepoPaths.Root, "VERSION")).Trim();
        Assert.Equal($"fpgascore {version}", CliArguments.VersionLine);
        Assert.Equal(version, typeof(ScoringClient).Assembly.GetName().Version?.ToString(3));
    }

    private static readonly string[] s_names = ["checkerboard.png", "gradient.jpg", "large-150k.jpg", "rings.jpg", "tiny-noise.png"];

    /// <summary><paramref name="count"/> copies of the test images, in turn, named so that their order shows
    /// (<c>007-rings.jpg</c>); the one at <paramref name="corruptAt"/> is a truncated JPEG.</summary>
    private static List<string> ManyImages(int count, int corruptAt = -1)
    {
        var dir = Path.Combine(RunDirectory.Path, "cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var files = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var name = i == corruptAt ? "corrupt.jpg" : s_names[i % s_names.Length];
            var file = Path.Combine(dir, $"{i:000}-{name}");
            File.Copy(RepoPaths.Image(name), file);
            files.Add(file);
        }
        return files;
    }

    private static int GoldenTop1(string file) => Golden.Top1(Path.GetFileName(file).Split('-', 2)[1]);

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(Emulator server, IEnumerable<string> args,
        Grpc.Core.Metadata? headers = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await ScoreCommand.RunAsync(CliArguments.Parse(["--host", "127.0.0.1", "--port", server.Port.ToString(), .. args]),
            stdout, stderr, headers);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task ScoresFortyImagesInBatchesInTheGivenOrder()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var files = ManyImages(40);
        var (code, stdout, stderr) = await RunAsync(server, ["--json", .. files]); // 8 per call
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(files, results.Select(r => r.GetProperty("image").GetString()));
        Assert.Equal(files.Select(GoldenTop1), results.Select(r => r.GetProperty("top_k")[0].GetProperty("class_id").GetInt32()));
        Assert.Equal(5, results.Select(r => r.GetProperty("request_id").GetString()).Distinct().Count());
        Assert.Equal(0, json.RootElement.GetProperty("not_scored").GetArrayLength());

        (code, stdout, stderr) = await RunAsync(server, ["--batch-size", "7", "--top", "1", .. files]);
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(80, lines.Length); // 5 calls of 7 and one of 5: nothing lost
        Assert.Equal(files, lines.Where((_, i) => i % 2 == 0));
        Assert.Equal(files.Select(GoldenTop1), lines.Where((_, i) => i % 2 == 1).Select(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])));
    }

    [Fact]
    public async Task ABatchTheServerRefusesAsTooLargeSaysLowerBatchSize()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var files = ManyImages(40);
        var (code, stdout, stderr) = await RunAsync(server, ["--batch-size", "40", "--json", .. files]);
        Assert.Equal(1, code);
        Assert.Contains("at most 32 per request", stderr);
        Assert.Contains("the server refused 40 images in one call: lower --batch-size (it is 40)", stderr);
        using var json = JsonDocument.Parse(stdout);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(files, results.Select(r => r.GetProperty("image").GetString()));
        Assert.All(results, r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("error").GetProperty("code").GetString()));
        Assert.Equal(0, json.RootElement.GetProperty("not_scored").GetArrayLength());
    }

    [Fact]
    public async Task AFailedBatchEndsTheRunAndSaysWhatWasNotScored()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var files = ManyImages(20, corruptAt: 12);
        var (code, stdout, stderr) = await RunAsync(server, ["--batch-size", "5", "--top", "1", .. files]);
        Assert.Equal(1, code);
        Assert.Equal(files.Take(10), stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where((_, i) => i % 2 == 0));
        Assert.Contains("INVALID_ARGUMENT", stderr);
        Assert.Contains($"10 of 20 images scored; not scored: {files[10]} and the 9 after it", stderr);
        Assert.DoesNotContain("lower --batch-size", stderr);
        (code, stdout, _) = await RunAsync(server, ["--batch-size", "5", "--json", .. files]);
        using var json = JsonDocument.Parse(stdout);
        var entries = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(files.Take(15), entries.Select(r => r.GetProperty("image").GetString()));
        Assert.All(entries.Take(10), r => Assert.True(r.TryGetProperty("top_k", out _)));
        Assert.All(entries.Skip(10), r => Assert.Equal("INVALID_ARGUMENT", r.GetProperty("error").GetProperty("code").GetString()));
        Assert.Equal(files.Skip(15), json.RootElement.GetProperty("not_scored").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task ANonFiniteAnswerExitsOne()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var image = RepoPaths.Image("gradient.jpg");
        var (code, stdout, stderr) = await RunAsync(server, [image, image], new Grpc.Core.Metadata { { "x-conformance-scores", "nan@1,3" } });
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("INTERNAL", stderr);
        Assert.Contains("(NaN) at image 1, class 3", stderr);
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
            var results = json.RootElement.GetProperty("results");
            Assert.Matches("^[0-9a-f]{32}$", results[0].GetProperty("request_id").GetString());
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
        Assert.Contains("INVALID_ARGUMENT", stderr.ToString());
        Assert.Contains("request-id", stderr.ToString());
    }
}
