using System.Net;
using System.Net.Sockets;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>CheckHealth / CheckHealthAsync: the server's grpc.health.v1 status through the client's channel and key.</summary>
public class HealthTests
{
    [Fact]
    public async Task TheReferenceServerIsServingOverTlsWithAKey()
    {
        using var client = await Clients.SecureAsync();
        Assert.Equal(HealthStatus.Serving, await client.CheckHealthAsync());
        Assert.Equal(HealthStatus.Serving, client.CheckHealth("tensorflow.serving.PredictionService"));
        var unknown = await Assert.ThrowsAsync<ScoringException>(() => client.CheckHealthAsync("no.such.Service"));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("unknown service", unknown.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NothingListeningIsUnavailable()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var client = new ScoringClient(new ScoringClientOptions { Host = "127.0.0.1", Port = port, Timeout = TimeSpan.FromSeconds(5) });
        var down = await Assert.ThrowsAsync<ScoringException>(() => client.CheckHealthAsync());
        Assert.Equal(StatusCode.Unavailable, down.StatusCode);
        Assert.Equal(StatusCode.Unavailable, Assert.Throws<ScoringException>(() => client.CheckHealth()).StatusCode);
    }
}
