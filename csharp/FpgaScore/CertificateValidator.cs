using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FpgaScore;

/// <summary>
/// Checks the server's certificate: chain to the trusted roots (custom roots with
/// <see cref="X509ChainTrustMode.CustomRootTrust"/>, or the system's), validity period, and the host name
/// (the server-name override when set). Remembers why the last certificate was refused.
/// </summary>
internal sealed class CertificateValidator
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509Certificate2Collection? _roots;
    private readonly string _expectedName;
    private string? _lastFailure;
    private int _failures;

    public CertificateValidator(X509Certificate2Collection? roots, string expectedName)
    {
        _roots = roots;
        _expectedName = expectedName;
    }

    /// <summary>Why the last refused certificate was refused; null when none was.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>How many certificates were refused so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        var failure = Check(certificate, presented);
        if (failure is not null)
        {
            Volatile.Write(ref _lastFailure, failure);
            Interlocked.Increment(ref _failures);
        }
        return failure is null;
    }

    private string? Check(X509Certificate? certificate, X509Chain? presented)
    {
        if (certificate is null) return "the server sent no certificate";
        using var leaf = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(ServerAuthentication);
        if (_roots is not null)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(_roots);
        }
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.RawData.AsSpan().SequenceEqual(leaf.RawData))
                    policy.ExtraStore.Add(element.Certificate);

        if (!chain.Build(leaf))
        {
            var reasons = chain.ChainStatus.Select(s => Describe(s.Status)).Distinct();
            return $"{string.Join("; ", reasons)} (subject '{leaf.Subject}', issuer '{leaf.Issuer}')";
        }
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
