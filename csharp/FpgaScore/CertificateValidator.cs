using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FpgaScore;

/// <summary>
/// The server-certificate check. The chain is .NET's own validation with <see cref="ChainPolicy"/>: the custom roots as
/// <see cref="X509ChainPolicy.CustomTrustStore"/> (<see cref="X509ChainTrustMode.CustomRootTrust"/>), or the system's;
/// TLS server authentication; the validity period. The callback only adds the host-name check against the expected
/// name (the server-name override when set: the connection's own host is then another name) and remembers why the
/// last certificate was refused, for the error message.
/// </summary>
internal sealed class CertificateValidator
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly string _expectedName;
    private string? _lastFailure;
    private int _failures;

    public CertificateValidator(X509Certificate2Collection? roots, string expectedName)
    {
        _expectedName = expectedName;
        if (roots is null) return;
        ChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        ChainPolicy.CustomTrustStore.AddRange(roots);
        ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
    }

    /// <summary>The chain policy the TLS handshake validates with (null: the system's roots and .NET's defaults).</summary>
    public X509ChainPolicy? ChainPolicy { get; }

    /// <summary>Why the last refused certificate was refused; null when none was.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>How many certificates were refused so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var failure = Check(certificate, chain, errors);
        if (failure is not null)
        {
            Volatile.Write(ref _lastFailure, failure);
            Interlocked.Increment(ref _failures);
        }
        return failure is null;
    }

    private string? Check(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            return "the server sent no certificate";
        using var leaf = new X509Certificate2(certificate);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var reasons = (chain?.ChainStatus ?? []).Where(s => s.Status != X509ChainStatusFlags.NoError)
                .Select(s => Describe(s.Status)).Distinct().ToList();
            if (reasons.Count == 0) reasons.Add("the certificate chain is not valid");
            return $"{string.Join("; ", reasons)} (subject '{leaf.Subject}', issuer '{leaf.Issuer}')";
        }
        // .NET checked the name against the connection's host; the expected name is what counts (an override).
        if (!leaf.MatchesHostname(_expectedName))
            return $"the certificate (subject '{leaf.Subject}') is not valid for '{_expectedName}'";
        return null;
    }

    private static string Describe(X509ChainStatusFlags flag) => flag switch
    {
        X509ChainStatusFlags.UntrustedRoot => "issued by an untrusted or unknown certificate authority",
        X509ChainStatusFlags.PartialChain => "no chain to a trusted root certificate authority",
        X509ChainStatusFlags.NotTimeValid => "expired or not yet valid",
        X509ChainStatusFlags.NotValidForUsage => "not valid for TLS server authentication",
        X509ChainStatusFlags.Revoked => "revoked",
        X509ChainStatusFlags.NotSignatureValid => "invalid signature",
        _ => flag.ToString(),
    };
}
