using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Application code written against <see cref="IDeploymentClient"/> runs on a hand-written fake: the interface
/// is enough to test code that manages services without a manager.</summary>
public sealed class DeploymentFakeClientTests
{
    /// <summary>"Application code": rotates a service's secondary key and returns the key to hand out, after checking the
    /// service still runs.</summary>
    private static async Task<string> RotateSecondaryAsync(IDeploymentClient deployments, string service, CancellationToken cancellationToken)
    {
        var current = await deployments.GetServiceAsync(service, cancellationToken);
        if (current.State != ServiceState.Running)
            throw new InvalidOperationException($"{current.Name} is {current.State}: {current.StateMessage}");
        var keys = await deployments.RegenerateAuthKeysAsync(current.Id, KeyType.Secondary, cancellationToken);
        return keys.SecondaryKey;
    }

    [Fact]
    public async Task ApplicationCodeRunsOnAFake()
    {
        using var fake = new FakeDeploymentClient();
        fake.Services["web"] = new Service { Id = "svc_000000000001", Name = "web", State = ServiceState.Running };
        Assert.Equal("secondary-2", await RotateSecondaryAsync(fake, "web", CancellationToken.None));
        Assert.Equal(["GetService web", "RegenerateAuthKeys svc_000000000001 Secondary"], fake.Calls);

        fake.Services["down"] = new Service { Id = "svc_000000000002", Name = "down", State = ServiceState.Failed, StateMessage = "exited" };
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => RotateSecondaryAsync(fake, "down", CancellationToken.None));
        Assert.Contains("exited", failed.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<ScoringException>(() => RotateSecondaryAsync(fake, "nope", CancellationToken.None));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    /// <summary>A fake with a few services in memory; what is not needed here throws.</summary>
    private sealed class FakeDeploymentClient : IDeploymentClient
    {
        private int _generation = 1;

        public Dictionary<string, Service> Services { get; } = [];
        public List<string> Calls { get; } = [];
        public Uri Target { get; } = new("http://fake:50055/");

        public Task<Service> GetServiceAsync(string serviceId, CancellationToken cancellationToken = default)
        {
            Calls.Add($"GetService {serviceId}");
            return Services.TryGetValue(serviceId, out var service)
                ? Task.FromResult(service)
                : Task.FromException<Service>(new ScoringException(StatusCode.NotFound, $"no service '{serviceId}'"));
        }

        public Task<AuthKeys> RegenerateAuthKeysAsync(string serviceId, KeyType keyType, CancellationToken cancellationToken = default)
        {
            Calls.Add($"RegenerateAuthKeys {serviceId} {keyType}");
            _generation++;
            return Task.FromResult(new AuthKeys("primary-1", $"secondary-{_generation}"));
        }

        public Task<Model> RegisterModelAsync(string name, string description = "", IReadOnlyDictionary<string, string>? tags = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<Model> GetModelAsync(string modelId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<IReadOnlyList<Model>> ListModelsAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<Service> CreateServiceAsync(string name, string modelId, CreateServiceOptions? options = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<Service> UpdateServiceAsync(string serviceId, UpdateServiceOptions options, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<IReadOnlyList<Service>> ListServicesAsync(string? modelId = null, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<Service>>(Services.Values.ToList());

        public Task DeleteServiceAsync(string serviceId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<AuthKeys> GetAuthKeysAsync(string serviceId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<string> ExportKubernetesAsync(string serviceId, string? image = null, int? replicas = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
