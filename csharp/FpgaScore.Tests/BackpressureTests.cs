using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>RESOURCE_EXHAUSTED: retried with the server's pushback (queue full), not for an oversized message.</summary>
public class BackpressureTests
{
    [Fact]
    public async Task AFullQueueIsResourceExhaustedWithPushback()
    {
        var server = await Servers.GetAsync(ServerKind.Busy);
        using var client = Clients.For(server, o => o.RetryPolicy = RetryPolicy.NoRetries);
        var request = new ImageRequest(Clients.ImageBytes());
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            try
            {
                await client.ScoreAsync<float[]>(request);
                return null;
            }
            catch (ScoringException e)
            {
                return e;
            }
        }));
        var refused = outcomes.Where(e => e is not null).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, e =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, e!.StatusCode);
            Assert.Matches("^[0-9a-f]{32}$", e.RequestId);
            Assert.NotNull(e.Trailers.GetValue("grpc-retry-pushback-ms"));
        });
    }

    [Fact]
    public async Task AFullQueueIsRetriedUntilItHasRoom()
    {
        var server = await Servers.GetAsync(ServerKind.Busy);
        using var client = Clients.For(server, o =>
        {
            o.RetryPolicy = RetryPolicy.Default with { MaxAttempts = 30 };
            o.Timeout = TimeSpan.FromSeconds(30);
        });
        var request = new ImageRequest(Clients.ImageBytes());
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            client.ScoreWithDetailsAsync<float[]>(request)));
        Assert.All(results, r => Assert.Equal(1000, r.Scores.Length));
        Assert.Contains(results, r => r.Attempts > 1);
    }

    [Fact]
    public async Task AnOversizedMessageIsNotRetried()
    {
        var server = await Servers.GetAsync(ServerKind.SmallLimit);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("oversized");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreWithDetailsAsync<float[]>(
            ImageRequest.FromFiles(RepoPaths.Image("large-150k.jpg")), Clients.Case(caseId)));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Null(error.Trailers.GetValue("grpc-retry-pushback-ms"));
        await Task.Delay(300);
        Assert.True(server.Calls(caseId).Count <= 1);
    }
}
