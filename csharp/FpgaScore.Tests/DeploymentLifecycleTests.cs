using System.Diagnostics;
using System.Net.Sockets;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>
/// The seed's lifecycle end to end in C#, as tests/deployment/test_lifecycle.py runs it in Python, against a real manager
/// (process runtime): create with SSL and a self-signed certificate → keys → score with the primary (roots from
/// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) → regenerate the secondary while calls with the primary run (none fails) → the old
/// secondary refused, the new one works → a new certificate (a fresh client trusting the new root works, the old root
/// no longer does) → 3 replicas behind nginx (fresh connections reach each) → the manager killed and started again on the same state directory and port (same
/// service, port, replicas and keys, still scoring; adopted, not restarted) → delete (servers and balancer gone, port
/// closed).
/// </summary>
[Collection(EnvironmentCollection.Name)] // sets GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
public sealed class DeploymentLifecycleTests
{
    private const int Replicas = 3;

    [Fact]
    public async Task TheSeedsLifecycleEndToEnd()
    {
        using var manager = await Manager.StartAsync();
        using var first = new Pki();
        Service service;
        AuthKeys rotated;
        Service updated;
        using (var deployments = manager.Client())
        {
            var model = await deployments.RegisterModelAsync("resnet50", "the emulated ResNet-50");
            Assert.Equal("resnet50:1", model.Id);
            service = await deployments.CreateServiceAsync("lifecycle", model.Id, new CreateServiceOptions
            {
                SslEnabled = true,
                SslCertificate = first.SelfSigned.Cert, // a path; PEM text works too
                SslKey = first.SelfSigned.Key,
            });
            Assert.Equal(ServiceState.Running, service.State);
            Assert.Equal("process", service.Runtime);
            Assert.Equal("127.0.0.1", service.IpAddress);
            Assert.True(service.Port > 0);
            Assert.True(service.SslEnabled);
            Assert.Equal(("resnet50:1", 1), (service.ModelId, service.NumReplicas));
            Assert.NotNull(service.PrimaryKey);
            Assert.NotNull(service.SecondaryKey);
            Assert.NotEqual(service.PrimaryKey, service.SecondaryKey);
            Assert.True(service.PrimaryKey.Length >= 40 && service.SecondaryKey.Length >= 40);
            var keys = await deployments.GetAuthKeysAsync("lifecycle");
            Assert.Equal(new AuthKeys(service.PrimaryKey, service.SecondaryKey), keys);

            // Score with the primary key; the root comes from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
            using (new EnvironmentVariable("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", first.SelfSigned.Cert))
            {
                using (var client = Scoring.Client(service, keys.PrimaryKey))
                    await Scoring.AssertScoresAsync(client);

                // Regenerate the secondary while calls run with the primary: none fails; the old secondary is refused.
                rotated = await RotateUnderLoadAsync(deployments, service, keys.PrimaryKey, keys.SecondaryKey);
                Assert.Equal(keys.PrimaryKey, rotated.PrimaryKey);
                Assert.NotEqual(keys.SecondaryKey, rotated.SecondaryKey);
                using (var client = Scoring.Client(service, rotated.SecondaryKey))
                    await Scoring.AssertScoresAsync(client);
            }
            Assert.Equal(rotated, await deployments.GetAuthKeysAsync(service.Id));

            // A new certificate, from another CA: swapped in by reload, same port, keys kept.
            using var second = new Pki();
            updated = await deployments.UpdateServiceAsync("lifecycle", new UpdateServiceOptions
            {
                SslCertificate = await File.ReadAllTextAsync(second.Server.Cert), // PEM text
                SslKey = await File.ReadAllTextAsync(second.Server.Key),
            });
            Assert.Equal((service.Port, ServiceState.Running), (updated.Port, updated.State));
            Assert.NotEqual("", updated.CertificateSha256);
            Assert.NotEqual(service.CertificateSha256, updated.CertificateSha256);
            Assert.Null(updated.PrimaryKey); // a certificate swap issues no keys
            using (var fresh = Scoring.Client(service, rotated.PrimaryKey, second.CaFile))
                await Scoring.AssertScoresAsync(fresh);
            using (var stale = Scoring.Client(service, rotated.PrimaryKey, first.SelfSigned.Cert))
            {
                var refused = await Assert.ThrowsAsync<ScoringException>(() => Scoring.AssertScoresAsync(stale));
                Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
                Assert.Contains("certificate was not trusted", refused.Details, StringComparison.Ordinal);
            }

            // Three replicas behind the manager's balancer (nginx), on the same address, each with the keys and certificate.
            var scaled = await deployments.UpdateServiceAsync("lifecycle", new UpdateServiceOptions { NumReplicas = Replicas });
            Assert.Equal((Replicas, service.Port, ServiceState.Running), (scaled.NumReplicas, scaled.Port, scaled.State));
            for (var i = 0; i < 2 * Replicas; i++) // fresh connections reach every replica (the balancer is per connection)
            {
                using var client = Scoring.Client(service, rotated.PrimaryKey, second.CaFile);
                await Scoring.AssertScoresAsync(client);
            }
            var replicas = (await deployments.GetServiceAsync("lifecycle")).Replicas;
            Assert.Equal(Replicas, replicas.Count);
            Assert.All(replicas, r => Assert.True(r.ImagesScored >= 1, $"replica {r.Index} scored nothing: {r}"));

            // The manager crashes and comes back on the same state directory and port: nothing is lost.
            manager.Kill();
            using (var client = Scoring.Client(service, rotated.PrimaryKey, second.CaFile))
                await Scoring.AssertScoresAsync(client); // the service does not need its manager
            var earlier = manager.LogLineCount;
            await manager.RestartAsync();
            Assert.True(await manager.WaitForLogAsync("\"event\":\"service.adopted\"", earlier), manager.LogsSince(earlier)); // not restarted
            Assert.DoesNotContain("\"event\":\"service.started\"", manager.LogsSince(earlier), StringComparison.Ordinal);

            var again = await deployments.GetServiceAsync("lifecycle"); // the same client: same address
            Assert.Equal((service.Id, service.Port, ServiceState.Running, updated.CertificateSha256, Replicas),
                (again.Id, again.Port, again.State, again.CertificateSha256, again.NumReplicas));
            Assert.Equal(Replicas, again.Replicas.Count);
            Assert.Equal(rotated, await deployments.GetAuthKeysAsync("lifecycle"));
            Assert.Equal([service.Id], (await deployments.ListServicesAsync()).Select(s => s.Id));
            using (var client = Scoring.Client(again, rotated.SecondaryKey, second.CaFile))
                await Scoring.AssertScoresAsync(client);
            foreach (var secret in new[] { keys.PrimaryKey, keys.SecondaryKey, rotated.SecondaryKey, manager.Token })
                Assert.DoesNotContain(secret, manager.Logs, StringComparison.Ordinal);

            await deployments.DeleteServiceAsync("lifecycle");
            var gone = await Assert.ThrowsAsync<ScoringException>(() => deployments.GetServiceAsync("lifecycle"));
            Assert.Equal(StatusCode.NotFound, gone.StatusCode);
            Assert.Empty(await deployments.ListServicesAsync());
        }
        Assert.True(PortClosed(service.Port), $"port {service.Port} still accepts connections after the delete");
        Assert.Empty(manager.ServerPids());
        Assert.Empty(manager.BalancerPids());
    }

    /// <summary>Regenerates the secondary while another task scores with <paramref name="callingKey"/>: no call fails, at
    /// least one ran during the regeneration, and <paramref name="oldKey"/> is refused as soon as it has answered.</summary>
    private static async Task<AuthKeys> RotateUnderLoadAsync(DeploymentClient deployments, Service service, string callingKey, string oldKey)
    {
        using var client = Scoring.Client(service, callingKey);
        using var stale = Scoring.Client(service, oldKey);
        await Scoring.AssertScoresAsync(stale); // the old key works up to the regeneration (and its connection is up)
        AuthKeys keys;
        long started, finished;
        await using (var caller = new Caller(client))
        {
            await caller.WaitForCallsAsync(3);
            started = Stopwatch.GetTimestamp();
            keys = await deployments.RegenerateAuthKeysAsync(service.Name, KeyType.Secondary);
            finished = Stopwatch.GetTimestamp();
            var refused = await Assert.ThrowsAsync<ScoringException>(() => Scoring.AssertScoresAsync(stale));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            await caller.WaitForCallsAsync(3);
            Assert.Empty(caller.Failures);
            Assert.True(caller.CallsBetween(started, finished) >= 1, "no call ran while the key was regenerated");
        }
        return keys;
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
