using System.Diagnostics;

namespace FpgaScore.Bench;

/// <summary>What one phase measured: its side, every call's latency (ms), its wall and process CPU time (ms).</summary>
internal sealed record PhaseResult(string Side, double[] LatenciesMs, double WallMs, double CpuMs);

/// <summary>
/// The warm-up's end: its rounds, its seconds, the methods the JIT compiled in all, the share of its last round's
/// wall time the JIT spent compiling, and whether that was at most <see cref="PlanRunner.SettledJitShare"/> (false: a
/// fixed warm-up, or the time cap ended it with the JIT still at work, and the phases measure some of that work).
/// </summary>
internal sealed record WarmupResult(int Rounds, double Seconds, long MethodsCompiled, double LastRoundJitShare, bool Settled);

/// <summary>What a plan measured: the warm-up's end and the phases in order.</summary>
internal sealed record PlanResult(WarmupResult Warmup, List<PhaseResult> Phases);

/// <summary>Runs a plan's warm-up and phases on its N workers.</summary>
internal static class PlanRunner
{
    /// <summary>A warm-up round lasts at least this long: longer than the runtime's tiering delay (100 ms), in which a
    /// method called often enough waits before it is queued for its optimized (tier-1) compilation.</summary>
    internal static readonly TimeSpan MinimumRound = TimeSpan.FromMilliseconds(500);

    /// <summary>The JIT has settled when it compiled for at most this share of a round's wall time. Not "no method at
    /// all": a method called once a round reaches its 30th call only in the 30th round, so such methods trickle in for
    /// minutes (a batch-of-8 plan, with rounds of 3 s, still compiled a few methods a round after 60 s).</summary>
    internal const double SettledJitShare = 0.01;

    /// <summary>
    /// Warm-up (not measured): N workers make <see cref="Plan.Warmup"/> calls each on every side in turn. With
    /// <see cref="Plan.JitSettleMaxS"/>, in rounds, each repeating that until it has lasted <see cref="MinimumRound"/>;
    /// the warm-up ends after the first round in which the JIT compiled for at most <see cref="SettledJitShare"/> of
    /// the round's time (or after JitSettleMaxS seconds). A fixed count of calls does not reach steady state on every
    /// host: .NET compiles each hot method twice, the second time (tier 1) on a background thread from a queue, and
    /// on a slow 2-core host 300 calls a side left the client's hot methods unoptimized for the whole run (its score
    /// decoding took 20 µs a call instead of 1.5, measured). Then the plan's phases one after the other: in each,
    /// every worker makes its timed calls on the phase's side, and the next phase starts once all of them ended. Wall
    /// clock and process CPU are read at every phase boundary. The first error cancels the other workers and is
    /// rethrown.
    /// </summary>
    public static async Task<PlanResult> RunAsync(Plan plan, IReadOnlyDictionary<string, ICaller> callers,
        CancellationToken cancellationToken = default)
    {
        var warmup = await WarmUpAsync(plan, callers, cancellationToken).ConfigureAwait(false);
        var results = new List<PhaseResult>(plan.Phases.Count);
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var mark = Checkpoint.Read(process, clock);
        foreach (var phase in plan.Phases)
        {
            var caller = callers[phase.Side];
            int each = phase.CallsPerWorker;
            var latencies = new double[each * plan.Concurrency];
            await Workers.FanOutAsync(plan.Concurrency, async (worker, token) =>
            {
                for (int i = 0; i < each; i++)
                    latencies[worker * each + i] = await Workers.TimedCallAsync(caller, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            var next = Checkpoint.Read(process, clock);
            var elapsed = next - mark;
            results.Add(new PhaseResult(phase.Side, latencies, elapsed.Wall.TotalMilliseconds, elapsed.Cpu.TotalMilliseconds));
            mark = next;
        }
        return new PlanResult(warmup, results);
    }

    private static async Task<WarmupResult> WarmUpAsync(Plan plan, IReadOnlyDictionary<string, ICaller> callers,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(plan.JitSettleMaxS);
        bool settling = limit > TimeSpan.Zero && plan.Warmup > 0;
        long compiledAtStart = System.Runtime.JitInfo.GetCompiledMethodCount();
        int rounds = 0;
        while (true)
        {
            rounds++;
            var round = Stopwatch.StartNew();
            var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            do
            {
                await Workers.FanOutAsync(plan.Concurrency, async (_, token) =>
                {
                    foreach (var side in plan.Sides)
                        await Workers.WarmUpAsync(callers[side.Name], plan.Warmup, token).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
            } while (settling && round.Elapsed < MinimumRound);
            var jitTime = System.Runtime.JitInfo.GetCompilationTime() - jitBefore;
            double jitShare = round.Elapsed > TimeSpan.Zero ? jitTime / round.Elapsed : 0; // JSON has no NaN
            bool settled = settling && jitShare <= SettledJitShare;
            if (settled || !settling || clock.Elapsed >= limit)
                return new WarmupResult(rounds, clock.Elapsed.TotalSeconds,
                    System.Runtime.JitInfo.GetCompiledMethodCount() - compiledAtStart, jitShare, settled);
        }
    }
}
