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

    /// <summary>A retry policy that would take seconds to give up: a mismatch that is retried shows in the elapsed time.</summary>
    private static readonly RetryPolicy Patient = new()
    {
        MaxAttempts = 5,
        InitialBackoff = TimeSpan.FromSeconds(5),
        MaxBackoff = TimeSpan.FromSeconds(5),
        Multiplier = 1.0,
    };

    [Fact]
    public async Task PlaintextToATlsServerSaysUseTlsEveryTime()
    {
        // Grpc.Net.Client ended this INTERNAL now and then; a connection that never became HTTP/2 is UNAVAILABLE every time.
        var server = await Servers.GetAsync(ServerKind.Secure);
        for (var run = 0; run < 10; run++)
        {
            using var client = Clients.For(server, o =>
            {
                o.UseSsl = false;
                o.RootCertificatesFile = null; // TLS-only settings are refused without TLS
                o.RetryPolicy = Patient;
            });
            var started = System.Diagnostics.Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(
                new ImageRequest(Clients.ImageBytes()), deadline: DateTime.UtcNow.AddSeconds(30)));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            Assert.StartsWith("the server speaks TLS", error.Details);
            Assert.Contains("UseSsl = true", error.Details);
            Assert.Contains("HTTP/2 handshake", error.Details); // the cause stays in the message
            Assert.DoesNotContain("certificate was not trusted", error.Message);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(2.5), $"run {run}: {started.Elapsed}: retried?");
        }
    }

    [Fact]
    public void AnHttpRequestThatFailedIsUnavailableHoweverGrpcCodedIt()
    {
        // What Grpc.Net.Client gives now and then for plaintext to a TLS port: INTERNAL, an HttpRequestException without an inner one.
        var keys = new KeyRing(null, null, AuthScheme.Raw);
        const string NoHttp2 = "An HTTP/2 connection could not be established because the server did not complete the HTTP/2 handshake.";
        var bare = new RpcException(new Status(StatusCode.Internal, "Error starting gRPC call. HttpRequestException: " + NoHttp2,
            new HttpRequestException(NoHttp2)));
        var mapped = ErrorMapper.FromRpc(bare, "", keys, null, 0, useSsl: false);
        Assert.Equal(StatusCode.Unavailable, mapped.StatusCode);
        Assert.StartsWith(ErrorMapper.SpeaksTls, mapped.Details);
        Assert.Contains(NoHttp2, mapped.Details);
        Assert.True(ErrorMapper.NeverRetried(mapped));
        // Another connection failure coded INTERNAL is UNAVAILABLE too, but no mismatch (and retried).
        var reset = new RpcException(new Status(StatusCode.Internal, "Error starting gRPC call. HttpRequestException: Connection reset by peer",
            new HttpRequestException("Connection reset by peer")));
        var other = ErrorMapper.FromRpc(reset, "", keys, null, 0, useSsl: false);
        Assert.Equal(StatusCode.Unavailable, other.StatusCode);
        Assert.False(ErrorMapper.NeverRetried(other));
        // An Internal the server sent stays Internal.
        var served = new RpcException(new Status(StatusCode.Internal, "internal error (request 1)"));
        Assert.Equal(StatusCode.Internal, ErrorMapper.FromRpc(served, "1", keys, null, 0).StatusCode);
    }

    [Fact]
    public void ABareMessageGetsItsCause()
    {
        var keys = new KeyRing("sk-secret-123456", null, AuthScheme.Raw);
        var subchannel = new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel.",
            new HttpRequestException("Connection refused (127.0.0.1:1)", new IOException("the peer went away"))));
        var mapped = ErrorMapper.FromRpc(subchannel, "", keys, null, 0, useSsl: false);
        Assert.StartsWith("Error connecting to subchannel. HttpRequestException: Connection refused (127.0.0.1:1)", mapped.Details);
        Assert.EndsWith("IOException: the peer went away", mapped.Details); // each cause once
        Assert.False(ErrorMapper.NeverRetried(mapped));
        // The cause is redacted like the message.
        var leaky = new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel.",
            new InvalidOperationException("bad sk-secret-123456")));
        Assert.DoesNotContain("sk-secret-123456", ErrorMapper.FromRpc(leaky, "", keys, null, 0).Details);
        // An empty DEADLINE_EXCEEDED says after how long and which setting.
        var deadline = new RpcException(new Status(StatusCode.DeadlineExceeded, ""));
        var late = ErrorMapper.FromRpc(deadline, "", keys, null, 0, deadline: TimeSpan.FromSeconds(2.5));
        Assert.Equal(StatusCode.DeadlineExceeded, late.StatusCode);
        Assert.Equal("deadline exceeded after 2.5 s (ScoringClientOptions.Timeout, or the call's deadline argument)", late.Details);
        Assert.EndsWith("DeadlineExceeded: " + late.Details, late.Message);
    }

    [Fact]
    public async Task AnEmptyDeadlineExceededSaysWhich()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.Timeout = TimeSpan.FromMilliseconds(300));
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            headers: Clients.Case(Clients.NewCase("deadline-message"), ("x-conformance-delay-ms", "2000"))));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("deadline exceeded after 0.3 s", error.Details);
        Assert.Contains("ScoringClientOptions.Timeout", error.Details);
    }

    [Fact]
    public async Task TlsToAPlaintextServerSaysDropTls()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o =>
        {
            o.UseSsl = true;
            o.RootCertificatesFile = Servers.Pki.CaFile;
            o.RetryPolicy = Patient;
        });
        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            deadline: DateTime.UtcNow.AddSeconds(30)));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.StartsWith("the server does not speak TLS", error.Details);
        Assert.Contains("UseSsl = false", error.Details);
        Assert.DoesNotContain("certificate was not trusted", error.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2.5), $"{started.Elapsed}: retried?");
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
