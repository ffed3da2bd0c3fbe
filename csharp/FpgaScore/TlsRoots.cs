using System.Security.Cryptography.X509Certificates;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Which root certificates a TLS channel trusts (resolved once, when the client is constructed).</summary>
internal static class TlsRoots
{
    public const string EnvironmentVariable = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH";

    /// <summary>
    /// Explicit roots (PEM text, else a PEM file), else the file named by <c>GRPC_DEFAULT_SSL_ROOTS_FILE_PATH</c>,
    /// else null: the operating system's roots.
    /// </summary>
    public static X509Certificate2Collection? Resolve(string? pem, string? file)
    {
        if (pem is not null) return Parse(pem, "RootCertificatesPem");
        if (file is not null) return Parse(Read(file, "root certificates file"), $"root certificates file '{file}'");
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env)) return Parse(Read(env, $"{EnvironmentVariable} file"), $"{EnvironmentVariable} file '{env}'");
        return null;
    }

    private static string Read(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScoringException(StatusCode.InvalidArgument, $"cannot read {what} '{path}': {e.Message}");
        }
    }

    private static X509Certificate2Collection Parse(string pem, string what)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPem(pem);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ScoringException(StatusCode.InvalidArgument, $"{what} is not valid PEM: {e.Message}");
        }
        if (roots.Count == 0)
            throw new ScoringException(StatusCode.InvalidArgument, $"{what} holds no PEM certificate");
        return roots;
    }
}
