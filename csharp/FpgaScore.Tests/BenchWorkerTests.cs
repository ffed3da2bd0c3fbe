using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using FpgaScore.Bench;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>
/// bench/clients.py's C# worker (FpgaScore.Bench) against the real reference server: it runs the plan it is told
/// and reports one timing per planned call, phase by phase; a bad plan or a failed call ends it with a clear error,
/// a non-zero exit and nothing on stdout.
/// </summary>
public class BenchWorkerTests
{
    /// <summary>A plan as bench/clients.py makes it, small: side a the client, side b the stub, two workers.</summary>
    private static JsonObject ShortPlan(int port, string payload) => JsonNode.Parse($$"""
        {"host": "127.0.0.1", "port": {{port}}, "tls": false, "ca": null, "key_env": null, "payload": "{{payload}}",
         "image": {{JsonSerializer.Serialize(RepoPaths.Image("gradient.jpg"))}}, "concurrency": 2, "warmup": 1,
         "sides": [{"name": "a", "mode": "client"}, {"name": "b", "mode": "stub"}],
         "phases": [{"side": "a", "calls_per_worker": 2}, {"side": "b", "calls_per_worker": 2},
                    {"side": "b", "calls_per_worker": 3}, {"side": "a", "calls_per_worker": 1}]}
        """)!.AsObject();

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string line)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = await Worker.MainAsync(new StringReader(line + "\n"), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("jpeg")]
    [InlineData("batch8")]
    [InlineData("tensor")]
    public async Task TheWorkerReportsEveryPlannedCallPerPhase(string payload)
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var (code, stdout, stderr) = await RunAsync(ShortPlan(server.Port, payload).ToJsonString());
        Assert.True(code == 0, stderr);
        Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal("csharp", (string?)report["language"]);
        var phases = report["phases"]!.AsArray();
        Assert.Equal(["a4", "b4", "b6", "a2"], phases.Select(p => $"{(string?)p!["side"]}{p["latencies_ms"]!.AsArray().Count}"));
        Assert.All(phases, p => Assert.True((double)p!["wall_ms"]! > 0 && (double)p["cpu_ms"]! >= 0));
        Assert.All(phases.SelectMany(p => p!["latencies_ms"]!.AsArray()), ms => Assert.True((double)ms! > 0));
        var warmup = report["warmup"]!; // the fixed warm-up only: one round, not judged settled
        Assert.Equal((1, false), ((int)warmup["rounds"]!, (bool)warmup["settled"]!));
    }

    /// <summary>
    /// With jit_settle_max_s the warm-up goes on in rounds of at least PlanRunner.MinimumRound until the JIT took at
    /// most PlanRunner.SettledJitShare of one, or the time is up, and says which. (This test process JITs other tests' code at the same time, so
    /// either may end it; each round still lasts its minimum.)
    /// </summary>
    [Fact]
    public async Task TheWarmupCanGoOnUntilTheJitSettles()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        var plan = ShortPlan(server.Port, "tensor");
        plan["jit_settle_max_s"] = 3;
        var (code, stdout, stderr) = await RunAsync(plan.ToJsonString());
        Assert.True(code == 0, stderr);
        var warmup = JsonNode.Parse(stdout)!["warmup"]!;
        var (rounds, seconds, settled) = ((int)warmup["rounds"]!, (double)warmup["seconds"]!, (bool)warmup["settled"]!);
        Assert.True(rounds >= 1 && seconds >= rounds * PlanRunner.MinimumRound.TotalSeconds * 0.99, $"{warmup}");
        Assert.True(settled || seconds >= 3, $"{warmup}: neither settled nor out of time");
        Assert.True(settled == ((double)warmup["last_round_jit_share"]! <= PlanRunner.SettledJitShare), $"{warmup}");
    }

    [Fact]
    public async Task OverTlsTheCallsCarryTheKeyKeyEnvNames()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        var plan = ShortPlan(server.Port, "jpeg");
        (plan["tls"], plan["ca"], plan["key_env"]) = (true, Servers.Pki.CaFile, "FPGASCORE_BENCH_WORKER_TEST_KEY");
        Environment.SetEnvironmentVariable("FPGASCORE_BENCH_WORKER_TEST_KEY", Servers.PrimaryKey);
        var (code, _, stderr) = await RunAsync(plan.ToJsonString());
        Assert.True(code == 0, stderr);
        Environment.SetEnvironmentVariable("FPGASCORE_BENCH_WORKER_TEST_KEY", "not-the-key");
        var refused = await RunAsync(plan.ToJsonString());
        Assert.Equal((1, ""), (refused.Code, refused.Stdout));
        Assert.Contains("a call failed", refused.Stderr);
        Assert.DoesNotContain("not-the-key", refused.Stderr);
    }

    [Fact]
    public async Task AFailedCallExits1()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nobody listens there now
        var (code, stdout, stderr) = await RunAsync(ShortPlan(port, "tensor").ToJsonString());
        Assert.Equal((1, ""), (code, stdout));
        Assert.Contains("a call failed", stderr);
    }

    [Theory]
    [InlineData("not json", "not one JSON object")]
    [InlineData("concurrency=", "'concurrency'")]
    [InlineData("payload=png", "'payload'")]
    [InlineData("key_env=HOME", "need 'tls'")]
    [InlineData("sides.1.mode=raw", "mode client or stub")]
    [InlineData("sides.1.name=a", "distinct names")]
    [InlineData("phases.0.side=c", "name a side")]
    [InlineData("phases.1.calls_per_worker=0", "calls_per_worker >= 1")]
    [InlineData("jit_settle_max_s=-1", "'jit_settle_max_s' must be 0-600")]
    public async Task ABadPlanExits2AndSaysWhy(string spoil, string message)
    {
        string line = spoil;
        if (spoil.Contains('='))
        {
            var plan = ShortPlan(1, "jpeg");
            var (path, value) = (spoil[..spoil.IndexOf('=')].Split('.'), spoil[(spoil.IndexOf('=') + 1)..]);
            JsonNode node = plan;
            foreach (var step in path[..^1]) node = int.TryParse(step, out int i) ? node[i]! : node[step]!;
            if (value.Length == 0) node.AsObject().Remove(path[^1]);
            else node[path[^1]] = int.TryParse(value, out int n) ? JsonValue.Create(n) : JsonValue.Create(value);
            line = plan.ToJsonString();
        }
        var (code, stdout, stderr) = await RunAsync(line);
        Assert.Equal((2, ""), (code, stdout));
        Assert.Contains("bad plan", stderr);
        Assert.Contains(message, stderr);
    }
}
