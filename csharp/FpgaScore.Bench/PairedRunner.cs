using System.Diagnostics;

namespace FpgaScore.Bench;

/// <summary>The measured results of a paired run: side A, side B.</summary>
internal sealed record PairedResult(BenchResult A, BenchResult B);

/// <summary>
/// A paired ("A/B in one process") run: both sides in alternating phases, so that drift and thread placement,
/// which scatter separate processes, weigh on both alike.
/// </summary>
internal static class PairedRunner
{
    /// <summary>
    /// N workers make <paramref name="warmup"/> calls each on side A, then as many on side B (not measured). Then the
    /// phases of <paramref name="plan"/>, in the order A B B A A B B A ...: in each, every worker makes its timed calls
    /// on that phase's side, and the next phase starts once all of them ended. Wall clock and process CPU are read
    /// between phases, and a phase's share counts toward its side. The first error cancels the other workers and is
    /// rethrown.
    /// </summary>
    public static async Task<PairedResult> RunAsync(ICaller a, ICaller b, PhasePlan plan, int warmup,
        CancellationToken cancellationToken = default)
    {
        await Workers.FanOutAsync(plan.Concurrency, async (_, token) =>
        {
            await Workers.WarmUpAsync(a, warmup, token).ConfigureAwait(false);
            await Workers.WarmUpAsync(b, warmup, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        SideTotals[] sides = [new(a, plan.CallsPerSide), new(b, plan.CallsPerSide)];
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var mark = Checkpoint.Read(process, clock);
        for (int phase = 0; phase < plan.Phases; phase++)
        {
            var side = sides[PhasePlan.SideOf(phase)];
            int first = side.Calls;
            await Workers.FanOutAsync(plan.Concurrency,
                (worker, token) => MeasureAsync(side.Caller, plan.CallsPerWorker, side.Latencies, first + worker * plan.CallsPerWorker, token),
                cancellationToken).ConfigureAwait(false);
            var next = Checkpoint.Read(process, clock);
            side.AddPhase(plan.CallsPerPhase, next - mark);
            mark = next;
        }
        return new PairedResult(sides[0].ToResult(), sides[1].ToResult());
    }

    /// <summary>Makes <paramref name="count"/> calls one after the other, each timed, into <paramref name="latencies"/> from <paramref name="first"/> on.</summary>
    private static async Task MeasureAsync(ICaller caller, int count, double[] latencies, int first, CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
            latencies[first + i] = await Workers.TimedCallAsync(caller, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One side's caller and what its phases measured so far.</summary>
    private sealed class SideTotals(ICaller caller, int callsPerSide)
    {
        private TimeSpan _wall, _cpu;

        public ICaller Caller { get; } = caller;
        /// <summary>The latencies (ms) of all the side's phases, phase after phase.</summary>
        public double[] Latencies { get; } = new double[callsPerSide];
        /// <summary>Measured calls in the side's finished phases.</summary>
        public int Calls { get; private set; }

        public void AddPhase(int calls, Checkpoint elapsed)
        {
            Calls += calls;
            _wall += elapsed.Wall;
            _cpu += elapsed.Cpu;
        }

        public BenchResult ToResult() => new(Latencies[..Calls], _wall.TotalSeconds, _cpu.TotalMilliseconds);
    }
}

/// <summary>
/// The phases of a paired run: each of the N workers makes max(1, K / N) calls per phase, and both sides get the same
/// number of phases, enough for at least M calls each.
/// </summary>
internal sealed record PhasePlan(int Concurrency, int CallsPerWorker, int PhasesPerSide)
{
    /// <summary>Measured calls of one phase.</summary>
    public int CallsPerPhase => CallsPerWorker * Concurrency;
    /// <summary>Measured calls of one side, at least the M asked for.</summary>
    public int CallsPerSide => CallsPerPhase * PhasesPerSide;
    /// <summary>Phases of both sides.</summary>
    public int Phases => 2 * PhasesPerSide;

    /// <summary>The plan for N workers, at least M calls per side, K calls per phase.</summary>
    public static PhasePlan For(int concurrency, int calls, int phaseCalls)
    {
        int perWorker = Math.Max(1, phaseCalls / concurrency);
        int perPhase = perWorker * concurrency;
        return new PhasePlan(concurrency, perWorker, calls / perPhase + (calls % perPhase == 0 ? 0 : 1));
    }

    /// <summary>0 (side A) or 1 (side B) for a phase, in ABBA blocks: A B B A A B B A ... (cancels order effects).</summary>
    public static int SideOf(int phase) => phase % 4 is 0 or 3 ? 0 : 1;
}
