using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>The deployment client to a manager serving TLS (<c>--tls-cert</c>): the scoring client's roots and
/// certificate check, the token sent to a name that is not loopback because the channel is TLS.</summary>
[Collection(EnvironmentCollection.Name)] // sets GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
public sealed class DeploymentTlsTests
{
    [Fact]
    public async Task ATlsManagerIsReachedWithTheRootsGivenOrFromTheEnvironment()
    {
        var pki = Servers.Pki;
        using var manager = await Manager.StartAsync(pki.Server);
        var address = $"localhost:{manager.Port}";

        using (var client = manager.Client(o => { o.Address = address; o.UseSsl = true; o.RootCertificatesFile = pki.CaFile; }))
        {
            Assert.Equal("https", client.Target.Scheme);
            Assert.Equal("resnet50:1", (await client.RegisterModelAsync("resnet50")).Id);
        }
        using (new EnvironmentVariable("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", pki.CaFile))
        using (var client = manager.Client(o => { o.Address = address; o.UseSsl = true; }))
            Assert.Single(await client.ListModelsAsync());

        using (var untrusted = manager.Client(o => { o.Address = address; o.UseSsl = true; o.RootCertificatesFile = pki.OtherCaFile; }))
        {
            var refused = await Assert.ThrowsAsync<ScoringException>(() => untrusted.ListModelsAsync());
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.Contains("certificate was not trusted", refused.Details, StringComparison.Ordinal);
        }
        using (var plaintext = manager.Client(o => o.Address = address))
        {
            var refused = await Assert.ThrowsAsync<ScoringException>(() => plaintext.ListModelsAsync());
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.StartsWith("the server speaks TLS", refused.Details, StringComparison.Ordinal);
            Assert.DoesNotContain(manager.Token, refused.ToString(), StringComparison.Ordinal);
        }
    }
}
