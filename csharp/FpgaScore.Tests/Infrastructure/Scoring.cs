using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>Scoring a service the manager runs: a client for it, the golden check of its answer, and callers that
/// score back to back while something else happens.</summary>
public static class Scoring
{
    private static readonly Lazy<string> s_gradientSha256 = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "conformance", "testdata", "golden.json"))).RootElement
            .GetProperty("gradient.jpg").GetProperty("sha256").GetString()!);

    private static readonly Lazy<byte[]> s_image = new(() => Clients.ImageBytes("gradient.jpg"));

    /// <summary>A client of <paramref name="service"/> with <paramref name="key"/>, TLS when the service has SSL (roots:
    /// <paramref name="rootsFile"/>, else GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), no retries: every failure shows.</summary>
    public static ScoringClient Client(Service service, string? key, string? rootsFile = null) => new(new ScoringClientOptions
    {
        Host = service.IpAddress,
        Port = service.Port,
        UseSsl = service.SslEnabled,
        RootCertificatesFile = rootsFile,
        AccessToken = key,
        RetryPolicy = RetryPolicy.NoRetries,
        Timeout = TimeSpan.FromSeconds(30),
    });

    /// <summary>Scores gradient.jpg and checks the scores are the reference server's, bit for bit (golden.json's SHA-256).</summary>
    public static async Task AssertScoresAsync(ScoringClient client)
    {
        var scores = await client.ScoreAsync<float[]>(new ImageRequest(s_image.Value), CancellationToken.None);
        Assert.Equal(s_gradientSha256.Value, Sha256(scores));
    }

    private static string Sha256(float[] scores)
    {
        var bytes = MemoryMarshal.AsBytes(scores.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the golden hash is of little-endian floats");
        return Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
    }
}

/// <summary>Scores back to back with one client until stopped; keeps each call's span and every failure.</summary>
public sealed class Caller : IAsyncDisposable
{
    private readonly ScoringClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<(long Start, long End)> _spans = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly Task _loop;

    public Caller(ScoringClient client)
    {
        _client = client;
        _loop = Task.Run(RunAsync);
    }

    public int Calls => _spans.Count;
    public IReadOnlyList<string> Failures => _failures.ToList();

    /// <summary>Calls that ran at some time between the two <see cref="Stopwatch"/> timestamps.</summary>
    public int CallsBetween(long start, long end) => _spans.Count(s => s.Start <= end && s.End >= start);

    /// <summary>Waits until <paramref name="count"/> calls more than now have ended (or one failed).</summary>
    public async Task WaitForCallsAsync(int count)
    {
        var target = Calls + count;
        var until = DateTime.UtcNow.AddSeconds(60);
        while (Calls < target && _failures.IsEmpty && DateTime.UtcNow < until) await Task.Delay(20);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await Scoring.AssertScoresAsync(_client);
            }
            catch (Exception e) // every failure is a finding
            {
                _failures.Enqueue(e.Message);
            }
            _spans.Enqueue((start, Stopwatch.GetTimestamp()));
        }
    }
}
