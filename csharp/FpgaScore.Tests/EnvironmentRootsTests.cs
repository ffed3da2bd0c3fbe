using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>System roots and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (process-wide: these tests run alone).</summary>
[Collection(EnvironmentCollection.Name)]
public class EnvironmentRootsTests
{
    private const string Variable = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH";

    private static ScoringClient SystemRootsClient(Emulator server) => new(new ScoringClientOptions
    {
        Host = "localhost",
        Port = server.Port,
        UseSsl = true,
        AccessToken = Servers.PrimaryKey,
    });

    [Fact]
    public async Task SystemRootsDoNotTrustTheTestCa()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var unset = new EnvironmentVariable(Variable, null);
        using var client = SystemRootsClient(server);
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("certificate was not trusted", error.Message);
    }

    [Fact]
    public async Task TheVariablesFileReplacesTheSystemRootsAndIsReadAtConstruction()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        ScoringClient client;
        using (new EnvironmentVariable(Variable, Servers.Pki.CaFile))
            client = SystemRootsClient(server);
        using (client)
            Assert.Equal(1000, (await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()))).Length);
    }

    [Fact]
    public async Task TheVariablesFileIsTheOnlyTrust()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var other = new EnvironmentVariable(Variable, Servers.Pki.OtherCaFile);
        using var client = SystemRootsClient(server);
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Contains("certificate was not trusted", error.Message);
    }

    [Fact]
    public async Task ExplicitRootsWinOverTheVariable()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var other = new EnvironmentVariable(Variable, Servers.Pki.OtherCaFile);
        using var client = Clients.For(server, o => o.AccessToken = Servers.PrimaryKey);
        Assert.Equal(1000, (await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()))).Length);
    }

    [Fact]
    public void AnUnreadableVariableFileIsInvalidArgument()
    {
        using var missing = new EnvironmentVariable(Variable, "/nonexistent/roots.pem");
        var error = Assert.Throws<ScoringException>(() => new ScoringClient("localhost", 443, true, "k"));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(Variable, error.Message);
        Assert.DoesNotContain("\"k\"", error.Message);
    }
}
