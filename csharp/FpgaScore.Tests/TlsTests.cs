using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>TLS with explicit roots: trusted, refused certificates, server-name override.</summary>
public class TlsTests
{
    private static async Task<float[]> ScoreAsync(ScoringClient client) =>
        await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()));

    [Fact]
    public async Task RootsAsPemTextOrFileAreTrusted()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using (var fromFile = Clients.For(server, o => o.AccessToken = Servers.PrimaryKey))
            Assert.Equal(1000, (await ScoreAsync(fromFile)).Length);
        using var fromPem = Clients.For(server, o =>
        {
            o.RootCertificatesFile = null;
            o.RootCertificatesPem = Servers.Pki.CaPem;
            o.AccessToken = Servers.PrimaryKey;
            o.Host = "localhost";
        });
        Assert.Equal(1000, (await ScoreAsync(fromPem)).Length);
    }

    [Theory]
    [InlineData(ServerKind.Untrusted)]
    [InlineData(ServerKind.SelfSigned)]
    [InlineData(ServerKind.Expired)]
    [InlineData(ServerKind.WrongHost)]
    public async Task UntrustedCertificatesEndInUnavailable(ServerKind kind)
    {
        var server = await Servers.GetAsync(kind);
        using var client = Clients.For(server, o => o.AccessToken = Servers.PrimaryKey);
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("certificate was not trusted", error.Message);
        Assert.Equal("", error.RequestId);
        Assert.DoesNotContain(Servers.PrimaryKey, error.ToString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "a refused certificate is not retried");
    }

    [Fact]
    public async Task ASelfSignedCertificateIsTrustedWhenItIsTheRoot()
    {
        var server = await Servers.GetAsync(ServerKind.SelfSigned);
        using var client = Clients.For(server, o =>
        {
            o.RootCertificatesFile = Servers.Pki.SelfSigned.Cert;
            o.AccessToken = Servers.PrimaryKey;
        });
        Assert.Equal(1000, (await ScoreAsync(client)).Length);
    }

    [Fact]
    public async Task TheServerNameOverrideIsCheckedAgainstTheCertificate()
    {
        var server = await Servers.GetAsync(ServerKind.WrongHost);
        using (var plain = Clients.For(server, o => o.AccessToken = Servers.PrimaryKey))
        {
            var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(plain));
            Assert.Contains("certificate was not trusted", error.Message);
            Assert.Contains("127.0.0.1", error.Message);
        }
        using var overridden = Clients.For(server, o =>
        {
            o.ServerNameOverride = Pki.WrongHostName;
            o.AccessToken = Servers.PrimaryKey;
        });
        Assert.Equal(1000, (await ScoreAsync(overridden)).Length);
    }

    [Fact]
    public async Task AWrongServerNameOverrideIsRefused()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.ServerNameOverride = "elsewhere.test";
            o.AccessToken = Servers.PrimaryKey;
        });
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("certificate was not trusted", error.Message);
        Assert.Contains("elsewhere.test", error.Message);
    }

    [Fact]
    public async Task PlaintextToATlsServerIsUnavailableButNotACertificateError()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.UseSsl = false;
            o.RootCertificatesFile = null; // TLS-only settings are refused without TLS
        });
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
            new ImageRequest(Clients.ImageBytes()), deadline: DateTime.UtcNow.AddSeconds(3)));
        Assert.Contains(error.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
        Assert.DoesNotContain("certificate was not trusted", error.Message);
    }

    [Fact]
    public void AnHttpRequestThatFailedIsUnavailableHoweverGrpcCodedIt()
    {
        // What Grpc.Net.Client gives now and then for plaintext to a TLS port: INTERNAL, an HttpRequestException without an inner one.
        var keys = new KeyRing(null, null, AuthScheme.Raw);
        const string NoHttp2 = "An HTTP/2 connection could not be established because the server did not complete the HTTP/2 handshake.";
        var bare = new RpcException(new Status(StatusCode.Internal, "Error starting gRPC call. HttpRequestException: " + NoHttp2,
            new HttpRequestException(NoHttp2)));
        var mapped = ErrorMapper.FromRpc(bare, "", keys, null, 0);
        Assert.Equal(StatusCode.Unavailable, mapped.StatusCode);
        Assert.Contains(NoHttp2, mapped.Details);
        // An Internal the server sent stays Internal.
        var served = new RpcException(new Status(StatusCode.Internal, "internal error (request 1)"));
        Assert.Equal(StatusCode.Internal, ErrorMapper.FromRpc(served, "1", keys, null, 0).StatusCode);
    }

    [Fact]
    public async Task TlsToAPlaintextServerIsUnavailable()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o =>
        {
            o.UseSsl = true;
            o.RootCertificatesFile = Servers.Pki.CaFile;
            o.RetryPolicy = RetryPolicy.NoRetries;
        });
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.DoesNotContain("certificate was not trusted", error.Message);
    }

    [Fact]
    public void BadRootsAreInvalidArgumentAtConstruction()
    {
        var missing = Assert.Throws<ScoringException>(() => new ScoringClient(new ScoringClientOptions
        {
            UseSsl = true,
            RootCertificatesFile = "/nonexistent/ca.pem",
        }));
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        var notPem = Assert.Throws<ScoringException>(() => new ScoringClient(new ScoringClientOptions
        {
            UseSsl = true,
            RootCertificatesPem = "hello",
        }));
        Assert.Equal(StatusCode.InvalidArgument, notPem.StatusCode);
    }

    public static TheoryData<string, Action<ScoringClientOptions>> TlsOnlySettings => new()
    {
        { "RootCertificatesPem", o => o.RootCertificatesPem = "-----BEGIN CERTIFICATE-----" },
        { "RootCertificatesFile", o => o.RootCertificatesFile = "/tmp/ca.pem" },
        { "ServerNameOverride", o => o.ServerNameOverride = "scoring.internal.test" },
    };

    [Theory]
    [MemberData(nameof(TlsOnlySettings))]
    public void TlsOnlySettingsWithoutTlsAreInvalidArgument(string name, Action<ScoringClientOptions> set)
    {
        var options = new ScoringClientOptions { Host = "127.0.0.1", UseSsl = false };
        set(options);
        var error = Assert.Throws<ScoringException>(() => new ScoringClient(options));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(name, error.Message);
        Assert.Contains("UseSsl", error.Message);
    }
}
