using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>A certificate and its key as PEM files.</summary>
public sealed record CertFiles(string Cert, string Key);

/// <summary>
/// Fresh TLS material for a test run, written as PEM files: a CA, a server certificate it signs
/// (SANs localhost and 127.0.0.1), and the refused variants: self-signed, wrong host, expired,
/// and one signed by a CA nobody trusts.
/// </summary>
public sealed class Pki : IDisposable
{
    public Pki()
    {
        Directory = Path.Combine(RunDirectory.Path, "pki-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = CreateCa("fpgascore test CA", caKey, now);
        CaPem = ca.ExportCertificatePem();
        CaFile = Write("ca.pem", CaPem);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherCa = CreateCa("nobody's CA", otherKey, now);
        OtherCaFile = Write("other-ca.pem", otherCa.ExportCertificatePem());

        Server = Leaf("server", ca, ["localhost", "127.0.0.1"], now.AddDays(-1), now.AddDays(30));
        WrongHost = Leaf("wrong-host", ca, ["wrong.example"], now.AddDays(-1), now.AddDays(30));
        Expired = Leaf("expired", ca, ["localhost", "127.0.0.1"], now.AddDays(-30), now.AddDays(-1));
        Untrusted = Leaf("untrusted", otherCa, ["localhost", "127.0.0.1"], now.AddDays(-1), now.AddDays(30));
        SelfSigned = Leaf("self-signed", null, ["localhost", "127.0.0.1"], now.AddDays(-1), now.AddDays(30));
        AliasServer = Leaf("alias", ca, ["scoring.internal.test"], now.AddDays(-1), now.AddDays(30));
    }

    public string Directory { get; }
    public string CaPem { get; }
    public string CaFile { get; }
    /// <summary>A CA that signed only <see cref="Untrusted"/>.</summary>
    public string OtherCaFile { get; }
    public CertFiles Server { get; }
    public CertFiles WrongHost { get; }
    public CertFiles Expired { get; }
    public CertFiles Untrusted { get; }
    public CertFiles SelfSigned { get; }
    /// <summary>Valid only for <c>scoring.internal.test</c> (for the server-name override).</summary>
    public CertFiles AliasServer { get; }

    public string Write(string name, string text)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }

    private static X509Certificate2 CreateCa(string name, ECDsa key, DateTimeOffset now)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddDays(-60), now.AddDays(365));
    }

    private CertFiles Leaf(string name, X509Certificate2? issuer, string[] names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in names)
        {
            if (IPAddress.TryParse(n, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(n);
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        string pem;
        if (issuer is null)
        {
            using var cert = request.CreateSelfSigned(notBefore, notAfter);
            pem = cert.ExportCertificatePem();
        }
        else
        {
            var serial = RandomNumberGenerator.GetBytes(12);
            serial[0] &= 0x7f;
            using var cert = request.Create(issuer, notBefore, notAfter, serial);
            pem = cert.ExportCertificatePem() + "\n" + issuer.ExportCertificatePem();
        }
        return new CertFiles(Write(name + ".pem", pem + "\n"), Write(name + ".key", key.ExportPkcs8PrivateKeyPem() + "\n"));
    }
}
