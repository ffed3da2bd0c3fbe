using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FpgaScore.Bench;

// Cross-language benchmark command; prints exactly one JSON line on stdout (two in paired mode):
//   dotnet build csharp/FpgaScore.Bench -c Release -o .tools/csharp-bench
//   dotnet .tools/csharp-bench/FpgaScore.Bench.dll --host H --port P [--tls --ca PEM [--server-name NAME]] \
//     --payload jpeg|batch8|tensor --image PATH --concurrency N --calls M [--warmup W] --mode client|stub|A/B \
//     [--phase-calls K]
// Paired mode (--mode A/B, e.g. client/stub, or stub/stub as an A/A test) measures both sides in one process, in
// alternating phases A B B A A B ... of K calls (default 40) split over the workers, with a barrier between phases,
// until each side made at least M calls; it prints side A's line, then side B's, each with an extra last field
// "side": "a" / "b".
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    if (e.Message != "help") Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

try
{
    var payload = Payload.Load(options.Payload, options.Image);
    if (!options.IsPaired)
    {
        using var caller = Callers.Create(options.Mode, options, payload);
        var result = await Runner.RunAsync(caller, options.Concurrency, options.Calls, options.Warmup);
        Console.Out.WriteLine(ResultLine.Json(options, options.Mode, result));
    }
    else
    {
        // Both sides set up before anything is timed, each with its own client or channel.
        using var a = Callers.Create(options.Sides[0], options, payload);
        using var b = Callers.Create(options.Sides[1], options, payload);
        var plan = PhasePlan.For(options.Concurrency, options.Calls, options.PhaseCalls);
        var result = await PairedRunner.RunAsync(a, b, plan, options.Warmup);
        Console.Out.WriteLine(ResultLine.Json(options, options.Sides[0], result.A, side: "a"));
        Console.Out.WriteLine(ResultLine.Json(options, options.Sides[1], result.B, side: "b"));
    }
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: benchmark aborted: {e.GetType().Name}: {e.Message}");
    return 1;
}

namespace FpgaScore.Bench
{
    /// <summary>Latencies (ms) of the measured calls, wall time and process CPU time of the measured phase.</summary>
    internal sealed record BenchResult(double[] LatenciesMs, double WallSeconds, double CpuMilliseconds)
    {
        /// <summary>Measured calls.</summary>
        public int Calls => LatenciesMs.Length;

        /// <summary>Nearest-rank percentile.</summary>
        public double Percentile(double p)
        {
            var sorted = LatenciesMs.Order().ToArray();
            return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        }
    }

    /// <summary>The JSON line of one measured mode (the same fields, in the same order, as the Python and Go commands).</summary>
    internal static class ResultLine
    {
        /// <summary>The line; <paramref name="side"/> ("a" / "b", paired mode only) is added as the last field.</summary>
        public static string Json(BenchOptions options, string mode, BenchResult result, string? side = null)
        {
            var line = new Dictionary<string, object>
            {
                ["language"] = "csharp",
                ["mode"] = mode,
                ["payload"] = options.Payload,
                ["concurrency"] = options.Concurrency,
                ["tls"] = options.Tls,
                ["calls"] = result.Calls,
                ["p50_ms"] = Math.Round(result.Percentile(50), 3),
                ["p90_ms"] = Math.Round(result.Percentile(90), 3),
                ["p99_ms"] = Math.Round(result.Percentile(99), 3),
                ["throughput_per_s"] = Math.Round(result.Calls / result.WallSeconds, 1),
                ["cpu_ms_per_call"] = Math.Round(result.CpuMilliseconds / result.Calls, 3),
            };
            if (side is not null) line["side"] = side;
            return JsonSerializer.Serialize(line);
        }
    }

    internal static class Runner
    {
        /// <summary>
        /// N workers: each makes its warm-up calls, then, once all are warm, its share of the measured calls (M split
        /// as evenly as possible), each timed. Wall clock and process CPU are read around the measured calls. The first
        /// error cancels the other workers and is rethrown.
        /// </summary>
        public static async Task<BenchResult> RunAsync(ICaller caller, int concurrency, int calls, int warmup)
        {
            await Workers.FanOutAsync(concurrency, (_, token) => Workers.WarmUpAsync(caller, warmup, token), default)
                .ConfigureAwait(false);
            var latencies = new double[calls];
            var process = Process.GetCurrentProcess();
            var clock = Stopwatch.StartNew();
            var before = Checkpoint.Read(process, clock);
            await Workers.FanOutAsync(concurrency, async (index, token) =>
            {
                // Worker k takes the measured calls k, k+N, k+2N, ...
                for (int call = index; call < calls; call += concurrency)
                    latencies[call] = await Workers.TimedCallAsync(caller, token).ConfigureAwait(false);
            }, default).ConfigureAwait(false);
            var elapsed = Checkpoint.Read(process, clock) - before;
            return new BenchResult(latencies, elapsed.Wall.TotalSeconds, elapsed.Cpu.TotalMilliseconds);
        }
    }
}
