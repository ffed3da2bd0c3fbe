using System.Diagnostics;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Deadlines (default and per call) and cancellation.</summary>
public class DeadlineTests
{
    private static Metadata Slow(string caseId, int ms) => Clients.Case(caseId, ("x-conformance-delay-ms", ms.ToString()));

    [Fact]
    public async Task TheDefaultTimeoutIsTheDeadlineAndIsNotRetried()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.Timeout = TimeSpan.FromMilliseconds(1000));
        // A first call with a deadline of its own connects the channel: on a loaded host a cold connection can take most
        // of the default timeout, and an attempt that reaches the server after its deadline is not logged.
        await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()), deadline: DateTime.UtcNow.AddSeconds(30));
        var caseId = Clients.NewCase("deadline-default");
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScoringException>(() =>
            client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Slow(caseId, 3000)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2.5), $"took {watch.Elapsed}");
        // The server logs the attempt once its 3 s delay is over (later on a loaded host); a retry would have been sent
        // at once, and its line would follow within the 3 s given after the first one.
        Assert.Single(await server.CallsAsync(caseId, 1, timeoutMs: 30000));
        Assert.Single(await server.CallsAsync(caseId, 2, timeoutMs: 3000));
    }

    [Fact]
    public async Task APerCallDeadlineWins()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.Timeout = TimeSpan.FromMilliseconds(200));
        var caseId = Clients.NewCase("deadline-per-call");
        var scores = await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Slow(caseId, 500), DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(1000, scores.Length);

        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
            new ImageRequest(Clients.ImageBytes()), Slow(Clients.NewCase("deadline-short"), 2000), DateTime.UtcNow.AddMilliseconds(300)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task CancellationEndsTheCall()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
            new ImageRequest(Clients.ImageBytes()), Slow(Clients.NewCase("cancel"), 3000), cancellationToken: cts.Token));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task CancellationDuringBackoffEndsTheCall()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 4,
            InitialBackoff = TimeSpan.FromSeconds(3),
            MaxBackoff = TimeSpan.FromSeconds(3),
            Multiplier = 1,
        });
        var caseId = Clients.NewCase("cancel-backoff");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        var headers = Clients.Case(caseId, ("x-conformance-fail", "9:UNAVAILABLE"));
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
            new ImageRequest(Clients.ImageBytes()), headers, null, cts.Token));
        // Either the jittered sleep was short enough for another attempt that then got cancelled, or the sleep was cancelled.
        Assert.True(error.StatusCode is StatusCode.Cancelled or StatusCode.Unavailable, error.Message);
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenMakesNoCall()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("pre-cancelled");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
            new ImageRequest(Clients.ImageBytes()), Clients.Case(caseId), null, new CancellationToken(true)));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await Task.Delay(200);
        Assert.Empty(server.Calls(caseId));
    }
}
