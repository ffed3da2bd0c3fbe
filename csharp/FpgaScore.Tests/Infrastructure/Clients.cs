namespace FpgaScore.Tests.Infrastructure;

/// <summary>Clients for the test servers, and unique conformance case ids.</summary>
public static class Clients
{
    public static ScoringClientOptions Options(Emulator server, Action<ScoringClientOptions>? configure = null)
    {
        var options = new ScoringClientOptions { Host = "127.0.0.1", Port = server.Port, UseSsl = server.Tls };
        if (server.Tls) options.RootCertificatesFile = Servers.Pki.CaFile;
        configure?.Invoke(options);
        return options;
    }

    public static ScoringClient For(Emulator server, Action<ScoringClientOptions>? configure = null) =>
        new(Options(server, configure));

    /// <summary>A client of the TLS server with the CA trusted and the primary key.</summary>
    public static async Task<ScoringClient> SecureAsync(Action<ScoringClientOptions>? configure = null)
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        return For(server, o =>
        {
            o.AccessToken = Servers.PrimaryKey;
            configure?.Invoke(o);
        });
    }

    public static async Task<ScoringClient> PlainAsync(Action<ScoringClientOptions>? configure = null) =>
        For(await Servers.GetAsync(ServerKind.Plain), configure);

    public static string NewCase(string name) => $"cs/{name}/{Guid.NewGuid():N}";

    public static Grpc.Core.Metadata Case(string caseId, params (string Key, string Value)[] more)
    {
        var headers = new Grpc.Core.Metadata { { "x-conformance-case", caseId } };
        foreach (var (key, value) in more) headers.Add(key, value);
        return headers;
    }

    public static byte[] ImageBytes(string name = "gradient.jpg") => File.ReadAllBytes(RepoPaths.Image(name));
}
