using System.Diagnostics;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>A certificate and its key as PEM files.</summary>
public sealed record CertFiles(string Cert, string Key);

/// <summary>
/// The run's TLS material, made by <c>scripts/make-dev-certs</c> (the one maker of test certificates, shared with
/// the Python and Go tests): a CA, a server certificate it signs (SANs localhost and 127.0.0.1), and the refused
/// variants: self-signed, wrong host, expired, and one signed by a CA nobody trusts.
/// </summary>
public sealed class Pki : IDisposable
{
    /// <summary>The only name of <see cref="WrongHost"/>.</summary>
    public const string WrongHostName = "wrong.example";

    public Pki()
    {
        Directory = Path.Combine(RunDirectory.Path, "pki-" + Guid.NewGuid().ToString("N")[..8]);
        Run(RepoPaths.Script("make-dev-certs"), "--out", Directory);
        CaFile = Path.Combine(Directory, "ca.pem");
        CaPem = File.ReadAllText(CaFile);
        OtherCaFile = Path.Combine(Directory, "untrusted-ca.pem");
        Server = Pair("server");
        WrongHost = Pair("wrong-host");
        Expired = Pair("expired");
        Untrusted = Pair("untrusted");
        SelfSigned = Pair("self-signed");
    }

    public string Directory { get; }
    public string CaPem { get; }
    public string CaFile { get; }
    /// <summary>A CA that signed only <see cref="Untrusted"/>.</summary>
    public string OtherCaFile { get; }
    public CertFiles Server { get; }
    /// <summary>Signed by the CA, valid only for <see cref="WrongHostName"/>.</summary>
    public CertFiles WrongHost { get; }
    public CertFiles Expired { get; }
    public CertFiles Untrusted { get; }
    public CertFiles SelfSigned { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }

    private CertFiles Pair(string stem) =>
        new(Path.Combine(Directory, stem + ".pem"), Path.Combine(Directory, stem + "-key.pem"));

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(" ", args)} exited {process.ExitCode}: {stdout.Result}{stderr}");
    }
}
