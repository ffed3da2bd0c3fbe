using System.Diagnostics;

namespace FpgaScore.Benchmarks;

/// <summary>Latency samples of one contender, and their summary.</summary>
internal sealed class Measure(string name)
{
    private readonly List<double> _ms = [];

    public string Name => name;

    public async Task RunOnceAsync(Func<Task> call)
    {
        var watch = Stopwatch.StartNew();
        await call();
        _ms.Add(watch.Elapsed.TotalMilliseconds);
    }

    public double Mean => _ms.Average();

    public double Percentile(double p)
    {
        var sorted = _ms.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public override string ToString() =>
        $"{name,-28} n={_ms.Count,5}  mean {Mean,8:0.000} ms  p50 {Percentile(50),8:0.000}  p90 {Percentile(90),8:0.000}  p99 {Percentile(99),8:0.000}";
}
