using System.Collections.Concurrent;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>The kinds of reference server the tests use.</summary>
public enum ServerKind
{
    /// <summary>Plaintext, no auth.</summary>
    Plain,
    /// <summary>Plaintext, <c>--require-auth</c> with the primary and secondary keys.</summary>
    PlainAuth,
    /// <summary>TLS with a certificate of the test CA (localhost, 127.0.0.1), primary and secondary keys.</summary>
    Secure,
    /// <summary>TLS with a certificate of the test CA valid only for <see cref="Pki.WrongHostName"/>.</summary>
    WrongHost,
    /// <summary>TLS with an expired certificate of the test CA.</summary>
    Expired,
    /// <summary>TLS with a certificate of a CA nobody trusts.</summary>
    Untrusted,
    /// <summary>TLS with a self-signed certificate.</summary>
    SelfSigned,
    /// <summary>Plaintext, one FPGA with a queue of one image and 300 ms per image: RESOURCE_EXHAUSTED with pushback under load.</summary>
    Busy,
    /// <summary>Plaintext, messages limited to 100 000 bytes.</summary>
    SmallLimit,
    /// <summary>Plaintext, messages up to 32 MiB: answers padded beyond the client's 16 MiB response limit can be sent.</summary>
    LargeAnswers,
}

/// <summary>
/// Reference servers shared by every test of the run, each started on first use and stopped when the
/// test process exits; and the run's TLS material.
/// </summary>
public static class Servers
{
    public const string PrimaryKey = "primary-key-7f3a91";
    public const string SecondaryKey = "secondary-key-c04e22";

    private static readonly Lazy<Pki> s_pki = new(() => new Pki());
    private static readonly ConcurrentDictionary<ServerKind, Lazy<Task<Emulator>>> s_servers = new();

    static Servers()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
    }

    public static Pki Pki => s_pki.Value;

    public static Task<Emulator> GetAsync(ServerKind kind) =>
        s_servers.GetOrAdd(kind, k => new Lazy<Task<Emulator>>(() => Emulator.StartAsync(SettingsFor(k)))).Value;

    private static EmulatorSettings SettingsFor(ServerKind kind)
    {
        var keys = new EmulatorSettings { PrimaryKey = PrimaryKey, SecondaryKey = SecondaryKey };
        return kind switch
        {
            ServerKind.Plain => new EmulatorSettings(),
            ServerKind.PlainAuth => keys with { RequireAuth = true },
            ServerKind.Secure => keys with { Tls = Pki.Server },
            ServerKind.WrongHost => keys with { Tls = Pki.WrongHost },
            ServerKind.Expired => keys with { Tls = Pki.Expired },
            ServerKind.Untrusted => keys with { Tls = Pki.Untrusted },
            ServerKind.SelfSigned => keys with { Tls = Pki.SelfSigned },
            ServerKind.Busy => new EmulatorSettings { ExtraArgs = ["--fpgas", "1", "--queue-depth", "1", "--service-time-ms", "300"] },
            ServerKind.SmallLimit => new EmulatorSettings { ExtraArgs = ["--max-message-bytes", "100000"] },
            ServerKind.LargeAnswers => new EmulatorSettings { ExtraArgs = ["--max-message-bytes", (32 << 20).ToString()] },
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static void StopAll()
    {
        foreach (var lazy in s_servers.Values)
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
                lazy.Value.Result.Dispose();
        if (s_pki.IsValueCreated) s_pki.Value.Dispose();
    }
}
