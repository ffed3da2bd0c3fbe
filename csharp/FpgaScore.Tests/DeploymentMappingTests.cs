using FpgaScore.Tests.Infrastructure;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>The deployment client against a DeploymentService written in the test (not the manager): every field of the
/// answers mapped to the records, what the requests carry, and the errors a peer may send.</summary>
public sealed class DeploymentMappingTests : IAsyncLifetime
{
    private const string Token = "fake-admin-token-5d1c";
    private FakeDeploymentServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeDeploymentServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private DeploymentClient Client() => new(_server.Address, Token);

    private static readonly DateTimeOffset Created = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static V1.Service FullService() => new()
    {
        Id = "svc_0123456789ab",
        Name = "mapped",
        ModelId = "resnet50:3",
        State = V1.Service.Types.State.Failed,
        StateMessage = "the server exited (code 1)",
        IpAddress = "10.0.0.7",
        Port = 40123,
        SslEnabled = true,
        NumReplicas = 2,
        Runtime = "container",
        CreatedAt = Timestamp.FromDateTimeOffset(Created),
        UpdatedAt = Timestamp.FromDateTimeOffset(Created.AddMinutes(1)),
        CertificateSha256 = new string('a', 64),
        CertificateNotAfter = Timestamp.FromDateTimeOffset(Created.AddDays(30)),
        Replicas =
        {
            new V1.ReplicaStatus
            {
                Index = 0, Health = V1.ReplicaStatus.Types.Health.Serving, CallsByCode = { ["OK"] = 7, ["UNAUTHENTICATED"] = 2 },
                ImagesScored = 9, QueueInUse = 1, QueueCapacity = 32, LatencyP50Ms = 1.5, LatencyP99Ms = 9.25,
                ObservedAt = Timestamp.FromDateTimeOffset(Created.AddMinutes(2)),
            },
            new V1.ReplicaStatus { Index = 1, Health = V1.ReplicaStatus.Types.Health.Unknown, HealthMessage = "metrics: connection refused" },
        },
    };

    [Fact]
    public async Task CreateSendsEveryFieldAndMapsEveryFieldOfTheAnswer()
    {
        _server.Fake.Answer<V1.CreateServiceRequest>("CreateService", _ => new V1.CreateServiceResponse
        {
            Service = FullService(),
            Keys = new V1.AuthKeys { PrimaryKey = "pk-1", SecondaryKey = "sk-2" },
        });
        var pki = Servers.Pki;
        using var client = Client();
        var service = await client.CreateServiceAsync("mapped", "resnet50:3", new CreateServiceOptions
        {
            SslEnabled = true,
            SslCertificate = pki.Server.Cert, // a path: sent as its PEM text
            SslKey = await File.ReadAllTextAsync(pki.Server.Key), // PEM text: sent as it is
            PrimaryKey = "given-primary",
            NumReplicas = 2,
        });

        var sent = _server.Fake.Last<V1.CreateServiceRequest>("CreateService");
        Assert.Equal(("mapped", "resnet50:3", true, 2), (sent.Name, sent.ModelId, sent.SslEnabled, sent.NumReplicas));
        Assert.Equal(await File.ReadAllTextAsync(pki.Server.Cert), sent.SslCertificate);
        Assert.Equal(await File.ReadAllTextAsync(pki.Server.Key), sent.SslKey);
        Assert.Equal(("given-primary", ""), (sent.PrimaryKey, sent.SecondaryKey));
        Assert.Equal(Token, _server.Fake.Calls[^1].Authorization);

        Assert.Equal(("svc_0123456789ab", "mapped", "resnet50:3"), (service.Id, service.Name, service.ModelId));
        Assert.Equal((ServiceState.Failed, "the server exited (code 1)"), (service.State, service.StateMessage));
        Assert.Equal(("10.0.0.7", 40123, "10.0.0.7:40123"), (service.IpAddress, service.Port, service.Address));
        Assert.Equal((true, 2, "container"), (service.SslEnabled, service.NumReplicas, service.Runtime));
        Assert.Equal((Created, Created.AddMinutes(1), Created.AddDays(30)), (service.CreatedAt, service.UpdatedAt, service.CertificateNotAfter));
        Assert.Equal(new string('a', 64), service.CertificateSha256);
        Assert.Equal(("pk-1", "sk-2"), (service.PrimaryKey, service.SecondaryKey));
        Assert.Equal(2, service.Replicas.Count);
        var serving = service.Replicas[0];
        Assert.Equal((0, ReplicaHealth.Serving, 9L, 1, 32), (serving.Index, serving.Health, serving.ImagesScored, serving.QueueInUse, serving.QueueCapacity));
        Assert.Equal((1.5, 9.25, Created.AddMinutes(2)), (serving.LatencyP50Ms, serving.LatencyP99Ms, serving.ObservedAt));
        Assert.Equal(new Dictionary<string, long> { ["OK"] = 7, ["UNAUTHENTICATED"] = 2 }, serving.CallsByCode);
        Assert.Equal((ReplicaHealth.Unknown, "metrics: connection refused"), (service.Replicas[1].Health, service.Replicas[1].HealthMessage));
        Assert.Null(service.Replicas[1].ObservedAt);
    }

    [Fact]
    public async Task AnAnswerWithoutKeysOrTimesHasNullsAndUnknownValuesAreUnknown()
    {
        _server.Fake.Answer<V1.GetServiceRequest>("GetService", _ => new V1.GetServiceResponse
        {
            Service = new V1.Service
            {
                Id = "svc_1",
                Name = "newer",
                IpAddress = "::1",
                Port = 1,
                State = (V1.Service.Types.State)42, // a newer manager's state
                Replicas = { new V1.ReplicaStatus { Health = (V1.ReplicaStatus.Types.Health)9 } },
            },
        });
        using var client = Client();
        var service = await client.GetServiceAsync("newer");
        Assert.Equal("newer", _server.Fake.Last<V1.GetServiceRequest>("GetService").ServiceId);
        Assert.Equal(ServiceState.Unknown, service.State);
        Assert.Equal(ReplicaHealth.Unknown, Assert.Single(service.Replicas).Health);
        Assert.Null(service.PrimaryKey);
        Assert.Null(service.SecondaryKey);
        Assert.Null(service.CreatedAt);
        Assert.Equal("[::1]:1", service.Address);
    }

    [Fact]
    public async Task UpdateSendsOnlyWhatIsSet()
    {
        _server.Fake.Answer<V1.UpdateServiceRequest>("UpdateService", r => new V1.UpdateServiceResponse { Service = new V1.Service { Id = "svc_2", Name = r.ServiceId } });
        using var client = Client();
        await client.UpdateServiceAsync("svc_2", new UpdateServiceOptions { NumReplicas = 3 });
        var sent = _server.Fake.Last<V1.UpdateServiceRequest>("UpdateService");
        Assert.Equal(("svc_2", true, 3, false), (sent.ServiceId, sent.HasNumReplicas, sent.NumReplicas, sent.HasSslEnabled));
        Assert.Equal(("", "", ""), (sent.SslCertificate, sent.SslKey, sent.ModelId));

        await client.UpdateServiceAsync("svc_2", new UpdateServiceOptions { SslEnabled = false, ModelId = "inception:1" });
        sent = _server.Fake.Last<V1.UpdateServiceRequest>("UpdateService");
        Assert.Equal((true, false, false, "inception:1"), (sent.HasSslEnabled, sent.SslEnabled, sent.HasNumReplicas, sent.ModelId));
    }

    [Fact]
    public async Task ModelsKeysListsAndExportAreMapped()
    {
        _server.Fake.Answer<V1.RegisterModelRequest>("RegisterModel", r => new V1.RegisterModelResponse
        {
            Model = new V1.Model { Id = r.Name + ":4", Name = r.Name, Version = 4, Description = r.Description, Tags = { r.Tags }, CreatedAt = Timestamp.FromDateTimeOffset(Created) },
        });
        _server.Fake.Answer<V1.ListServicesRequest>("ListServices", _ => new V1.ListServicesResponse
        {
            Services = { new V1.Service { Id = "svc_old", Name = "old" }, new V1.Service { Id = "svc_new", Name = "new" } },
        });
        _server.Fake.Answer<V1.RegenerateAuthKeysRequest>("RegenerateAuthKeys", _ => new V1.RegenerateAuthKeysResponse { Keys = new V1.AuthKeys { PrimaryKey = "p", SecondaryKey = "s2" } });
        _server.Fake.Answer<V1.ExportServiceRequest>("ExportService", _ => new V1.ExportServiceResponse { Manifests = "---\nkind: Service\n" });
        using var client = Client();

        var model = await client.RegisterModelAsync("m", "d", new Dictionary<string, string> { ["k"] = "v" });
        Assert.Equal(("m:4", "m", 4L, "d", "v", Created), (model.Id, model.Name, model.Version, model.Description, model.Tags["k"], model.CreatedAt));
        Assert.Equal(["svc_old", "svc_new"], (await client.ListServicesAsync("m:4")).Select(s => s.Id));
        Assert.Equal("m:4", _server.Fake.Last<V1.ListServicesRequest>("ListServices").ModelId);

        Assert.Equal(new AuthKeys("p", "s2"), await client.RegenerateAuthKeysAsync("svc_old", KeyType.Secondary));
        Assert.Equal(V1.RegenerateAuthKeysRequest.Types.KeyType.Secondary, _server.Fake.Last<V1.RegenerateAuthKeysRequest>("RegenerateAuthKeys").KeyType);
        await client.RegenerateAuthKeysAsync("svc_old", KeyType.Primary);
        Assert.Equal(V1.RegenerateAuthKeysRequest.Types.KeyType.Primary, _server.Fake.Last<V1.RegenerateAuthKeysRequest>("RegenerateAuthKeys").KeyType);
        await Assert.ThrowsAsync<ScoringException>(() => client.RegenerateAuthKeysAsync("svc_old", (KeyType)7));

        Assert.Equal("---\nkind: Service\n", await client.ExportKubernetesAsync("svc_old", image: "img:1", replicas: 5));
        var export = _server.Fake.Last<V1.ExportServiceRequest>("ExportService");
        Assert.Equal(("svc_old", V1.ExportServiceRequest.Types.Format.Kubernetes, "img:1", 5), (export.ServiceId, export.Format, export.Image, export.Replicas));
        Assert.All(_server.Fake.Calls, call => Assert.Equal(Token, call.Authorization));
    }

    [Theory]
    [InlineData(StatusCode.NotFound, "NOT_FOUND")]
    [InlineData(StatusCode.AlreadyExists, "ALREADY_EXISTS")]
    [InlineData(StatusCode.InvalidArgument, "INVALID_ARGUMENT")]
    [InlineData(StatusCode.Unauthenticated, "UNAUTHENTICATED")]
    [InlineData(StatusCode.Unimplemented, "UNIMPLEMENTED")]
    [InlineData(StatusCode.FailedPrecondition, "FAILED_PRECONDITION")]
    [InlineData(StatusCode.Unavailable, "UNAVAILABLE")]
    public async Task APeersErrorIsAScoringExceptionWithItsCodeAndMessage(StatusCode code, string name)
    {
        _server.Fake.Answer<V1.DeleteServiceRequest>("DeleteService", r => throw new RpcException(new Status(code, $"about '{r.ServiceId}'")));
        using var client = Client();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.DeleteServiceAsync("gone"));
        Assert.Equal(code, error.StatusCode);
        Assert.Equal(name, ScoringException.CodeName(error.Code));
        Assert.Contains("about 'gone'", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APeerEchoingTheTokenGetsItRedacted()
    {
        _server.Fake.Answer<V1.ListModelsRequest>("ListModels", _ => throw new RpcException(new Status(StatusCode.Unauthenticated, $"token {Token} is not mine")));
        using var client = Client();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ListModelsAsync());
        Assert.DoesNotContain(Token, error.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("<redacted>", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnswersWithoutTheKeysTheyMustHoldAreInternal()
    {
        _server.Fake.Answer<V1.GetAuthKeysRequest>("GetAuthKeys", _ => new V1.GetAuthKeysResponse());
        using var client = Client();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.GetAuthKeysAsync("svc_1"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task APeersHugeReplicaListIsBounded()
    {
        var service = new V1.Service { Id = "svc_big", Name = "big" };
        service.Replicas.AddRange(Enumerable.Range(0, 5000).Select(i => new V1.ReplicaStatus { Index = i }));
        _server.Fake.Answer<V1.GetServiceRequest>("GetService", _ => new V1.GetServiceResponse { Service = service });
        using var client = Client();
        Assert.Equal(1024, (await client.GetServiceAsync("big")).Replicas.Count);
    }
}
