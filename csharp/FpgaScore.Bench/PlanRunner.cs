using System.Diagnostics;

namespace FpgaScore.Bench;

/// <summary>What one phase measured: its side, every call's latency (ms), its wall and process CPU time (ms).</summary>
internal sealed record PhaseResult(string Side, double[] LatenciesMs, double WallMs, double CpuMs);

/// <summary>Runs a plan's warm-up and phases on its N workers.</summary>
internal static class PlanRunner
{
    /// <summary>
    /// N workers make <see cref="Plan.Warmup"/> calls each on every side in turn (not measured). Then the plan's
    /// phases one after the other: in each, every worker makes its timed calls on the phase's side, and the next
    /// phase starts once all of them ended. Wall clock and process CPU are read at every phase boundary. The first
    /// error cancels the other workers and is rethrown.
    /// </summary>
    public static async Task<List<PhaseResult>> RunAsync(Plan plan, IReadOnlyDictionary<string, ICaller> callers,
        CancellationToken cancellationToken = default)
    {
        await Workers.FanOutAsync(plan.Concurrency, async (_, token) =>
        {
            foreach (var side in plan.Sides)
                await Workers.WarmUpAsync(callers[side.Name], plan.Warmup, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

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
        return results;
    }
}
