using System.Diagnostics;

namespace FpgaScore.Bench;

/// <summary>Workers run at once with a barrier at the end, and timed calls.</summary>
internal static class Workers
{
    /// <summary>
    /// Runs <paramref name="work"/> for workers 0..N-1 at once and waits for all of them (the barrier between phases).
    /// The first error cancels the others and is rethrown.
    /// </summary>
    public static async Task FanOutAsync(int workers, Func<int, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? firstError = null;

        async Task Worker(int index)
        {
            try
            {
                await work(index, abort.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                if (Interlocked.CompareExchange(ref firstError, e, null) is null) abort.Cancel();
                throw;
            }
        }

        var tasks = Enumerable.Range(0, workers).Select(i => Task.Run(() => Worker(i))).ToArray();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch when (firstError is not null)
        {
            throw firstError;
        }
    }

    /// <summary>Makes one call and returns its latency in milliseconds.</summary>
    public static async Task<double> TimedCallAsync(ICaller caller, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await caller.CallAsync(cancellationToken).ConfigureAwait(false);
        return watch.Elapsed.TotalMilliseconds;
    }

    /// <summary>Makes <paramref name="count"/> calls one after the other, not timed.</summary>
    public static async Task WarmUpAsync(ICaller caller, int count, CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++) await caller.CallAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Wall clock and process CPU (user+sys) at one phase boundary, or elapsed between two.</summary>
internal readonly record struct Checkpoint(TimeSpan Wall, TimeSpan Cpu)
{
    public static Checkpoint Read(Process process, Stopwatch clock) => new(clock.Elapsed, ProcessCpu.Read(process));

    public static Checkpoint operator -(Checkpoint end, Checkpoint start) => new(end.Wall - start.Wall, end.Cpu - start.Cpu);
}
