using System.Security.Cryptography;
using System.Text;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>The auth matrix: none, wrong, primary, secondary, Bearer, failover, plaintext refusal, redaction.</summary>
public class AuthTests
{
    private static string Fingerprint(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..16];

    private static async Task<ScoringResult<float[]>> ScoreAsync(ScoringClient client, string caseId) =>
        await client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()), Clients.Case(caseId));

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-key")]
    public async Task AMissingOrWrongKeyIsUnauthenticated(string? key)
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o => o.AccessToken = key);
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, Clients.NewCase("auth-bad")));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        if (key is not null)
        {
            Assert.DoesNotContain(key, error.Message);
            Assert.DoesNotContain(key, error.ToString());
        }
    }

    [Theory]
    [InlineData(Servers.PrimaryKey, AuthScheme.Raw)]
    [InlineData(Servers.SecondaryKey, AuthScheme.Raw)]
    [InlineData(Servers.PrimaryKey, AuthScheme.Bearer)]
    public async Task EitherKeyInEitherFormIsAccepted(string key, AuthScheme scheme)
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = key;
            o.AuthScheme = scheme;
        });
        var caseId = Clients.NewCase("auth-ok");
        var result = await ScoreAsync(client, caseId);
        Assert.Equal(1000, result.Scores.Length);
        var call = Assert.Single(await server.CallsAsync(caseId, 1));
        var sent = scheme == AuthScheme.Bearer ? "Bearer " + key : key;
        Assert.Equal(Fingerprint(sent), call.GetProperty("authorization_sha256").GetString());
    }

    [Fact]
    public async Task TheSecondaryKeyTakesOverAndStays()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = "revoked-old-key";
            o.SecondaryAccessToken = Servers.SecondaryKey;
            o.RetryPolicy = RetryPolicy.NoRetries; // the repeat with the other key is not a retry
        });
        var first = await ScoreAsync(client, Clients.NewCase("failover-1"));
        Assert.Equal(2, first.Attempts);

        var caseId = Clients.NewCase("failover-2");
        var second = await ScoreAsync(client, caseId);
        Assert.Equal(1, second.Attempts);
        var call = Assert.Single(await server.CallsAsync(caseId, 1));
        Assert.Equal(Fingerprint(Servers.SecondaryKey), call.GetProperty("authorization_sha256").GetString());
    }

    [Fact]
    public async Task AnOlderCallOnThePrimaryDoesNotSwitchBackAfterAFailover()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = Servers.PrimaryKey;
            o.SecondaryAccessToken = Servers.SecondaryKey;
            o.RetryPolicy = RetryPolicy.NoRetries;
        });
        // A starts on the primary and is slow; B fails over to the secondary while A is in flight.
        var slow = client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            Clients.Case(Clients.NewCase("race-slow"), ("x-conformance-delay-ms", "1500")));
        var failover = await client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            Clients.Case(Clients.NewCase("race-failover"), ("x-conformance-fail", "1:UNAUTHENTICATED")));
        Assert.Equal(2, failover.Attempts);
        Assert.False(slow.IsCompleted);
        Assert.Equal(1, (await slow).Attempts);

        // A's late success on the primary must not move the client back to it.
        var caseId = Clients.NewCase("race-after");
        await ScoreAsync(client, caseId);
        var call = Assert.Single(await server.CallsAsync(caseId, 1));
        Assert.Equal(Fingerprint(Servers.SecondaryKey), call.GetProperty("authorization_sha256").GetString());
    }

    [Fact]
    public async Task PerCallAuthorizationIsRefusedBeforeSending()
    {
        // Without the check, this would send a key over plaintext past the refusal (and replace the client's key).
        var server = await Servers.GetAsync(ServerKind.PlainAuth);
        using var client = Clients.For(server);
        foreach (var name in new[] { "authorization", "Authorization" })
        {
            var caseId = Clients.NewCase("percall-auth");
            var error = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreWithDetailsAsync<float[]>(
                new ImageRequest(Clients.ImageBytes()), Clients.Case(caseId, (name, Servers.PrimaryKey))));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("authorization", error.Message);
            Assert.DoesNotContain(Servers.PrimaryKey, error.ToString());
            Assert.Empty(await server.CallsAsync(caseId, 0));
        }
        var low = await Assert.ThrowsAsync<ScoringException>(() => client.PredictAsync(
            new ImageRequest(Clients.ImageBytes()).BuildRequest(RequestSettings.Default), new Metadata { { "authorization", "x" } }));
        Assert.Equal(StatusCode.InvalidArgument, low.StatusCode);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public async Task AKeyReadFromAFileIsSentWithoutItsLineEnd(string lineEnd)
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o => o.AccessToken = Servers.PrimaryKey + lineEnd);
        var caseId = Clients.NewCase("auth-trimmed");
        Assert.Equal(1000, (await ScoreAsync(client, caseId)).Scores.Length);
        var call = Assert.Single(await server.CallsAsync(caseId, 1));
        Assert.Equal(Fingerprint(Servers.PrimaryKey), call.GetProperty("authorization_sha256").GetString());
    }

    [Theory]
    [InlineData("first-half\nsecond-half", "U+000A at position 11")]
    [InlineData("first-half\u00e9", "U+00E9")]
    [InlineData("   ", "is empty")]
    public void AKeyAHeaderCannotCarryIsRefusedWithoutShowingIt(string key, string problem)
    {
        var error = Assert.Throws<ScoringException>(() => new ScoringClient("localhost", 1, true, key));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(problem, error.Message);
        Assert.DoesNotContain("first-half", error.ToString());
    }

    [Fact]
    public void ClientMetadataWithAuthorizationIsRefusedAtConstruction()
    {
        var error = Assert.Throws<ScoringException>(() => new ScoringClient(new ScoringClientOptions
        {
            UseSsl = true,
            AccessToken = "k1",
            Metadata = new Metadata { { "Authorization", "other-key" } },
        }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("authorization", error.Message);
        Assert.DoesNotContain("other-key", error.ToString());
    }

    [Fact]
    public async Task BothKeysWrongFailsAfterOneRepeat()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = "wrong-1";
            o.SecondaryAccessToken = "wrong-2";
        });
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, Clients.NewCase("failover-bad")));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.DoesNotContain("wrong-1", error.ToString());
        Assert.DoesNotContain("wrong-2", error.ToString());
    }

    [Fact]
    public void AKeyOverPlaintextIsRefusedAtConstruction()
    {
        var error = Assert.Throws<ScoringException>(() => new ScoringClient("127.0.0.1", 50051, false, "secret-key-1"));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.DoesNotContain("secret-key-1", error.ToString());
    }

    [Fact]
    public async Task AllowInsecureKeySendsTheKeyOverPlaintext()
    {
        var server = await Servers.GetAsync(ServerKind.PlainAuth);
        using (var refused = Clients.For(server))
        {
            var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(refused, Clients.NewCase("plain-nokey")));
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = Servers.PrimaryKey;
            o.AllowInsecureKey = true;
        });
        Assert.Equal(1000, (await ScoreAsync(client, Clients.NewCase("plain-key"))).Scores.Length);
    }

    [Fact]
    public void NoKeyInToStrings()
    {
        var options = new ScoringClientOptions { UseSsl = true, AccessToken = "sk-very-secret", SecondaryAccessToken = "sk-other-secret" };
        using var client = new ScoringClient(options);
        foreach (var text in new[] { options.ToString(), client.ToString() })
        {
            Assert.DoesNotContain("sk-very-secret", text);
            Assert.DoesNotContain("sk-other-secret", text);
        }
    }

    [Fact]
    public void BadKeySettingsAreInvalidArgument()
    {
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<ScoringException>(() =>
            new ScoringClient(new ScoringClientOptions { UseSsl = true, AccessToken = " " })).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<ScoringException>(() =>
            new ScoringClient(new ScoringClientOptions { UseSsl = true, SecondaryAccessToken = "k2" })).StatusCode);
    }
}
