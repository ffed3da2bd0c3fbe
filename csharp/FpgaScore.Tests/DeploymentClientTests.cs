using System.Net.Sockets;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>One real manager (process runtime) for the tests of this class, with <c>resnet50</c> registered.</summary>
public sealed class ManagerFixture : IAsyncLifetime
{
    public Manager Manager { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Manager = await Manager.StartAsync();
        using var client = Manager.Client();
        await client.RegisterModelAsync("resnet50");
    }

    public Task DisposeAsync()
    {
        Manager.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The deployment client against the real manager: every call, the errors it maps, and no secret shown.</summary>
public sealed class DeploymentClientTests(ManagerFixture fixture) : IClassFixture<ManagerFixture>
{
    private Manager Manager => fixture.Manager;

    private static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid():N}"[..(stem.Length + 9)];

    [Fact]
    public async Task ModelsAreRegisteredAsNewVersionsAndReadBack()
    {
        using var client = Manager.Client();
        var name = UniqueName("model");
        var first = await client.RegisterModelAsync(name, "first", new Dictionary<string, string> { ["team"] = "vision" });
        Assert.Equal(($"{name}:1", name, 1L, "first"), (first.Id, first.Name, first.Version, first.Description));
        Assert.Equal("vision", first.Tags["team"]);
        Assert.NotNull(first.CreatedAt);
        var second = await client.RegisterModelAsync(name);
        Assert.Equal(($"{name}:2", 2L), (second.Id, second.Version));
        Assert.Equal(second.Id, (await client.GetModelAsync(name)).Id); // a bare name: its latest version
        Assert.Equal("first", (await client.GetModelAsync($"{name}:1")).Description);
        var listed = (await client.ListModelsAsync()).Select(m => m.Id).ToList();
        Assert.True(listed.IndexOf(first.Id) >= 0 && listed.IndexOf(first.Id) < listed.IndexOf(second.Id), string.Join(",", listed));
        var missing = await Assert.ThrowsAsync<ScoringException>(() => client.GetModelAsync("no-such-model"));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal("NOT_FOUND", ScoringException.CodeName(missing.StatusCode));
    }

    [Fact]
    public async Task AServiceWithoutSslScoresWithoutAKeyAndHasNoKeys()
    {
        using var client = Manager.Client();
        var name = UniqueName("plain");
        var service = await client.CreateServiceAsync(name, "resnet50");
        Assert.Equal((ServiceState.Running, false, 1, "resnet50:1"), (service.State, service.SslEnabled, service.NumReplicas, service.ModelId));
        Assert.Null(service.PrimaryKey);
        Assert.Null(service.SecondaryKey);
        Assert.Equal($"127.0.0.1:{service.Port}", service.Address);
        Assert.StartsWith("svc_", service.Id, StringComparison.Ordinal);
        using (var scoring = Scoring.Client(service, null))
            await Scoring.AssertScoresAsync(scoring);
        var noKeys = await Assert.ThrowsAsync<ScoringException>(() => client.GetAuthKeysAsync(name));
        Assert.Equal(StatusCode.FailedPrecondition, noKeys.StatusCode);

        var read = await client.GetServiceAsync(service.Id);
        Assert.Equal((service.Name, service.Port, ServiceState.Running), (read.Name, read.Port, read.State));
        var replica = Assert.Single(read.Replicas); // GetService reads the server's metrics
        Assert.Equal((0, ReplicaHealth.Serving), (replica.Index, replica.Health));
        Assert.True(replica.CallsByCode.GetValueOrDefault("OK") >= 1, string.Join(",", replica.CallsByCode));
        Assert.Contains(service.Id, (await client.ListServicesAsync()).Select(s => s.Id));
        Assert.Contains(service.Id, (await client.ListServicesAsync("resnet50:1")).Select(s => s.Id));
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<ScoringException>(() => client.ListServicesAsync("no-such-model:1"))).StatusCode);

        await client.DeleteServiceAsync(name);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<ScoringException>(() => client.GetServiceAsync(name))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<ScoringException>(() => client.DeleteServiceAsync(name))).StatusCode);
        Assert.True(PortClosed(service.Port));
    }

    [Fact]
    public async Task AServiceWithSslHasKeysThatRegenerateAndACertificateThatIsSwapped()
    {
        using var client = Manager.Client();
        var pki = Servers.Pki;
        var name = UniqueName("secure");
        var given = "given-primary-key-" + Guid.NewGuid().ToString("N");
        var service = await client.CreateServiceAsync(name, "resnet50", new CreateServiceOptions
        {
            SslEnabled = true,
            SslCertificate = pki.Server.Cert,
            SslKey = pki.Server.Key,
            PrimaryKey = given,
        });
        Assert.True(service.SslEnabled);
        Assert.Equal(given, service.PrimaryKey);
        Assert.NotNull(service.SecondaryKey); // generated
        Assert.Matches("^[0-9a-f]{64}$", service.CertificateSha256);
        Assert.NotNull(service.CertificateNotAfter);
        var keys = await client.GetAuthKeysAsync(name);
        Assert.Equal((given, service.SecondaryKey), (keys.PrimaryKey, keys.SecondaryKey));
        var (primary, secondary) = keys; // deconstructs as the Python client's tuple unpacking
        Assert.Equal(given, primary);

        using (var scoring = Scoring.Client(service, secondary, pki.CaFile))
            await Scoring.AssertScoresAsync(scoring);
        using (var keyless = Scoring.Client(service, null, pki.CaFile))
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<ScoringException>(() => Scoring.AssertScoresAsync(keyless))).StatusCode);

        var regenerated = await client.RegenerateAuthKeysAsync(service.Id, KeyType.Primary);
        Assert.Equal(secondary, regenerated.SecondaryKey);
        Assert.NotEqual(given, regenerated.PrimaryKey);
        using (var old = Scoring.Client(service, given, pki.CaFile))
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<ScoringException>(() => Scoring.AssertScoresAsync(old))).StatusCode);
        using (var fresh = Scoring.Client(service, regenerated.PrimaryKey, pki.CaFile))
            await Scoring.AssertScoresAsync(fresh);

        var swapped = await client.UpdateServiceAsync(name, new UpdateServiceOptions { SslCertificate = pki.SelfSigned.Cert, SslKey = pki.SelfSigned.Key });
        Assert.NotEqual(service.CertificateSha256, swapped.CertificateSha256);
        Assert.Null(swapped.PrimaryKey);
        using (var scoring = Scoring.Client(service, regenerated.PrimaryKey, pki.SelfSigned.Cert))
            await Scoring.AssertScoresAsync(scoring);

        var opened = await client.UpdateServiceAsync(name, new UpdateServiceOptions { SslEnabled = false });
        Assert.Equal((false, service.Port, ""), (opened.SslEnabled, opened.Port, opened.CertificateSha256));
        var secured = await client.UpdateServiceAsync(name, new UpdateServiceOptions
        {
            SslEnabled = true,
            SslCertificate = pki.Server.Cert,
            SslKey = pki.Server.Key,
        });
        Assert.NotNull(secured.PrimaryKey); // turning SSL on issues keys, answered on the service
        Assert.Equal(new AuthKeys(secured.PrimaryKey, secured.SecondaryKey!), await client.GetAuthKeysAsync(name));
        Assert.Null((await client.GetServiceAsync(name)).PrimaryKey); // never answered again by a read

        var manifests = await client.ExportKubernetesAsync(name, replicas: 2);
        Assert.Contains("kind: \"Deployment\"", manifests, StringComparison.Ordinal);
        Assert.Contains("replicas: 2", manifests, StringComparison.Ordinal);
        await client.DeleteServiceAsync(service.Id);
    }

    [Fact]
    public async Task ANameInUseIsAlreadyExistsAndMissingThingsAreNotFound()
    {
        using var client = Manager.Client();
        var name = UniqueName("twice");
        await client.CreateServiceAsync(name, "resnet50");
        var again = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(name, "resnet50"));
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Equal("ALREADY_EXISTS", ScoringException.CodeName(again.Code));
        Assert.Contains(name, again.Details, StringComparison.Ordinal);
        await client.DeleteServiceAsync(name);

        foreach (var call in new Func<Task>[]
                 {
                     () => client.GetServiceAsync("no-such-service"),
                     () => client.DeleteServiceAsync("no-such-service"),
                     () => client.GetAuthKeysAsync("no-such-service"),
                     () => client.RegenerateAuthKeysAsync("no-such-service", KeyType.Secondary),
                     () => client.UpdateServiceAsync("no-such-service", new UpdateServiceOptions { ModelId = "resnet50" }),
                     () => client.CreateServiceAsync(UniqueName("orphan"), "no-such-model"),
                 })
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<ScoringException>(call)).StatusCode);
    }

    [Fact]
    public async Task AWrongOrMissingAdminTokenIsUnauthenticatedAndNeverShown()
    {
        var wrong = "wrong-token-" + Guid.NewGuid().ToString("N");
        using var client = Manager.Client(o => o.AdminToken = wrong);
        var refused = await Assert.ThrowsAsync<ScoringException>(() => client.ListModelsAsync());
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("admin token", refused.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, refused.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, client.ToString(), StringComparison.Ordinal);

        using var bearer = Manager.Client(o => o.AdminToken = "Bearer " + Manager.Token); // the manager takes either form
        Assert.NotNull(await bearer.ListModelsAsync());
    }

    [Fact]
    public async Task BadInputIsInvalidArgumentNamingTheProblemAndStartsNothing()
    {
        using var client = Manager.Client();
        var pki = Servers.Pki;
        var before = Manager.ServerPids().Count;
        var notPem = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(UniqueName("badpem"), "resnet50",
            new CreateServiceOptions { SslEnabled = true, SslCertificate = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", SslKey = pki.Server.Key }));
        Assert.Equal(StatusCode.InvalidArgument, notPem.StatusCode);
        Assert.Contains("certificate", notPem.Details, StringComparison.OrdinalIgnoreCase);

        var mismatch = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(UniqueName("mismatch"), "resnet50",
            new CreateServiceOptions { SslEnabled = true, SslCertificate = pki.Server.Cert, SslKey = pki.SelfSigned.Key }));
        Assert.Equal(StatusCode.InvalidArgument, mismatch.StatusCode);

        var expired = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(UniqueName("expired"), "resnet50",
            new CreateServiceOptions { SslEnabled = true, SslCertificate = pki.Expired.Cert, SslKey = pki.Expired.Key }));
        Assert.Equal(StatusCode.InvalidArgument, expired.StatusCode);
        Assert.Contains("expire", expired.Details, StringComparison.OrdinalIgnoreCase);

        var noCertificate = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(UniqueName("nocert"), "resnet50",
            new CreateServiceOptions { SslEnabled = true }));
        Assert.Equal(StatusCode.InvalidArgument, noCertificate.StatusCode);

        var badName = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync("Not_A_DNS_Label", "resnet50"));
        Assert.Equal(StatusCode.InvalidArgument, badName.StatusCode);

        // A PEM argument that is neither PEM text nor a readable file is refused before any call.
        var unreadable = await Assert.ThrowsAsync<ScoringException>(() => client.CreateServiceAsync(UniqueName("nofile"), "resnet50",
            new CreateServiceOptions { SslEnabled = true, SslCertificate = "/no/such/cert.pem", SslKey = pki.Server.Key }));
        Assert.Equal(StatusCode.InvalidArgument, unreadable.StatusCode);
        Assert.Contains("SslCertificate", unreadable.Details, StringComparison.Ordinal);

        Assert.Equal(before, Manager.ServerPids().Count);
    }

    [Fact]
    public async Task NoKeyOrTokenInAnyToString()
    {
        using var client = Manager.Client();
        var name = UniqueName("shown");
        var service = await client.CreateServiceAsync(name, "resnet50", new CreateServiceOptions
        {
            SslEnabled = true,
            SslCertificate = Servers.Pki.Server.Cert,
            SslKey = Servers.Pki.Server.Key,
        });
        var keys = await client.GetAuthKeysAsync(name);
        var options = new DeploymentClientOptions { Address = Manager.Address, AdminToken = Manager.Token };
        var create = new CreateServiceOptions { PrimaryKey = keys.PrimaryKey, SecondaryKey = keys.SecondaryKey, SslKey = "secret-pem" };
        var update = new UpdateServiceOptions { SslKey = "secret-pem" };
        foreach (var text in new[] { service.ToString(), keys.ToString(), client.ToString(), options.ToString(), create.ToString(), update.ToString() })
        {
            foreach (var secret in new[] { keys.PrimaryKey, keys.SecondaryKey, Manager.Token, "secret-pem" })
                Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
        Assert.Contains(service.Id, service.ToString(), StringComparison.Ordinal);
        Assert.Contains("Keys=yes", service.ToString(), StringComparison.Ordinal);
        Assert.Contains(Manager.Address, client.ToString(), StringComparison.Ordinal);
        foreach (var secret in new[] { keys.PrimaryKey, keys.SecondaryKey, Manager.Token })
            Assert.DoesNotContain(secret, Manager.Logs, StringComparison.Ordinal);
        await client.DeleteServiceAsync(name);
    }

    [Fact]
    public async Task CancellationEndsACallAsCancelled()
    {
        using var client = Manager.Client();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ListModelsAsync(cancelled.Token));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    private static bool PortClosed(int port)
    {
        using var probe = new TcpClient();
        try
        {
            probe.Connect("127.0.0.1", port);
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}

/// <summary>What the client refuses before any call: no manager needed.</summary>
[Collection(EnvironmentCollection.Name)] // reads and sets FPGASCORE_ADMIN_TOKEN
public sealed class DeploymentClientOptionsTests
{
    [Theory]
    [InlineData("127.0.0.1:50055")]
    [InlineData("localhost:50055")]
    [InlineData("[::1]:50055")]
    [InlineData("127.0.0.2:50055")]
    public void TheTokenGoesOverPlaintextToLoopback(string address)
    {
        using var client = new DeploymentClient(address, "token");
        Assert.Equal("http", client.Target.Scheme);
    }

    [Fact]
    public void TheTokenOverPlaintextToAnotherHostIsRefusedUnlessAllowed()
    {
        var refused = Assert.Throws<ScoringException>(() => new DeploymentClient("10.1.2.3:50055", "token"));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("UseSsl", refused.Details, StringComparison.Ordinal);
        Assert.DoesNotContain("token\"", refused.Details, StringComparison.Ordinal);
        using var allowed = new DeploymentClient(new DeploymentClientOptions { Address = "10.1.2.3:50055", AdminToken = "token", AllowInsecureKey = true });
        using var tls = new DeploymentClient(new DeploymentClientOptions { Address = "manager.example:50055", AdminToken = "token", UseSsl = true });
        Assert.Equal("https", tls.Target.Scheme);
    }

    [Fact]
    public void TheTokenComesFromTheEnvironmentWhenNotGiven()
    {
        using (new EnvironmentVariable(DeploymentClientOptions.AdminTokenEnvironmentVariable, null))
        {
            var missing = Assert.Throws<ScoringException>(() => new DeploymentClient("127.0.0.1:50055"));
            Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
            Assert.Contains(DeploymentClientOptions.AdminTokenEnvironmentVariable, missing.Details, StringComparison.Ordinal);
        }
        using (new EnvironmentVariable(DeploymentClientOptions.AdminTokenEnvironmentVariable, "from-env"))
        {
            using var client = new DeploymentClient("127.0.0.1:50055");
            Assert.NotNull(client);
        }
    }

    [Theory]
    [InlineData("no-port")]
    [InlineData("host:")]
    [InlineData(":50055")]
    [InlineData("host:70000")]
    [InlineData("host:-1")]
    public void ABadAddressIsInvalidArgument(string address) =>
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<ScoringException>(() => new DeploymentClient(address, "token")).StatusCode);

    [Fact]
    public void ABadTokenOrSettingIsInvalidArgumentWithoutTheToken()
    {
        var bad = Assert.Throws<ScoringException>(() => new DeploymentClient("127.0.0.1:50055", "tok\nen"));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("AdminToken", bad.Details, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<ScoringException>(() => new DeploymentClient(
            new DeploymentClientOptions { AdminToken = "t", RootCertificatesFile = "ca.pem" })).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<ScoringException>(() => new DeploymentClient(
            new DeploymentClientOptions { AdminToken = "t", Timeout = TimeSpan.Zero })).StatusCode);
    }
}
