using System.Collections.Concurrent;
using FpgaScore.Bench;

namespace FpgaScore.Tests;

/// <summary>
/// The C# bench command's paired mode (the numbers in the README's client/stub table come from it): the phase
/// plan, ABBA phases with a barrier between them as the callers see them, and the first failure ending the run.
/// </summary>
public class BenchPairedRunnerTests
{
    [Fact]
    public void PlanSplitsPhasesOverTheWorkersAndGivesBothSidesTheSamePhases()
    {
        var plan = PhasePlan.For(concurrency: 2, calls: 10, phaseCalls: 4);
        Assert.Equal((2, 3, 12, 6), (plan.CallsPerWorker, plan.PhasesPerSide, plan.CallsPerSide, plan.Phases));
        var one = PhasePlan.For(concurrency: 16, calls: 20, phaseCalls: 4); // fewer calls than workers: one each
        Assert.Equal((1, 2), (one.CallsPerWorker, one.PhasesPerSide));
        Assert.Equal([0, 1, 1, 0, 0, 1, 1, 0], Enumerable.Range(0, 8).Select(PhasePlan.SideOf));
    }

    [Fact]
    public async Task PhasesAlternateAbbaAndEachEndsBeforeTheNextStarts()
    {
        var log = new ConcurrentQueue<(string Side, int Started, int Ended)>();
        int clock = 0;
        using var a = new RecordingCaller("a", log, () => Interlocked.Increment(ref clock));
        using var b = new RecordingCaller("b", log, () => Interlocked.Increment(ref clock));
        var plan = PhasePlan.For(concurrency: 2, calls: 10, phaseCalls: 4);

        var result = await PairedRunner.RunAsync(a, b, plan, warmup: 1);

        Assert.Equal(12, result.A.Calls);
        Assert.Equal(12, result.B.Calls);
        Assert.All(result.A.LatenciesMs.Concat(result.B.LatenciesMs), ms => Assert.True(ms > 0));
        var calls = log.OrderBy(c => c.Started).ToList();
        Assert.Equal(4 + 2 * 12, calls.Count);
        Assert.Equal(["a", "a", "b", "b"], calls.Take(4).Select(c => c.Side).Order()); // warm-up: one per worker and side
        var phases = calls.Skip(4).Chunk(4).ToList();
        Assert.Equal(["a", "b", "b", "a", "a", "b"], phases.Select(p => Assert.Single(p.Select(c => c.Side).Distinct())));
        for (int i = 1; i < phases.Count; i++)
            Assert.True(phases[i].Min(c => c.Started) > phases[i - 1].Max(c => c.Ended), $"phase {i} started before phase {i - 1} ended");
    }

    [Fact]
    public async Task TheFirstFailureEndsTheRun()
    {
        var log = new ConcurrentQueue<(string Side, int Started, int Ended)>();
        int clock = 0;
        using var a = new RecordingCaller("a", log, () => Interlocked.Increment(ref clock));
        using var b = new RecordingCaller("b", log, () => Interlocked.Increment(ref clock), failAfter: 3);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => PairedRunner.RunAsync(a, b, PhasePlan.For(2, 10, 4), warmup: 1));
        Assert.Equal("b failed", error.Message);
    }

    /// <summary>Records when each call started and ended on a shared counter; fails after <c>failAfter</c> calls.</summary>
    private sealed class RecordingCaller(string side, ConcurrentQueue<(string, int, int)> log, Func<int> tick, int failAfter = int.MaxValue)
        : ICaller
    {
        private int _calls;

        public async Task CallAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) > failAfter) throw new InvalidOperationException($"{side} failed");
            int started = tick();
            await Task.Delay(2, cancellationToken);
            log.Enqueue((side, started, tick()));
        }

        public void Dispose()
        {
        }
    }
}
