namespace FpgaScore.Cli;

/// <summary>
/// What the flags of <c>fpgascore service|model ...</c> name outside the command line, read before anything is sent: the
/// manager's address, the admin token (an environment variable or a file, never a flag value), the PEM files of
/// <c>--cert</c> and <c>--key</c>, the keys of <c>--primary-key-env</c> and <c>--secondary-key-env</c>. A problem is an
/// <see cref="ArgumentException"/> (exit status 2) that names the flag, the variable or the file, never a secret.
/// </summary>
internal sealed class DeploySettings
{
    /// <summary>The environment variable of the manager's address when <c>--manager</c> is not given.</summary>
    public const string ManagerEnvironmentVariable = "FPGASCORE_MANAGER";

    private DeploySettings(DeploymentClientOptions client) => Client = client;

    /// <summary>The deployment client's options: address, token, TLS to the manager, timeout.</summary>
    public DeploymentClientOptions Client { get; }

    /// <summary>The PEM text of <c>--cert</c>, of <c>--key</c> (null when not given).</summary>
    public string? Certificate { get; private init; }
    public string? PrivateKey { get; private init; }

    /// <summary>The keys create is given (null: generated).</summary>
    public string? PrimaryKey { get; private init; }
    public string? SecondaryKey { get; private init; }

    /// <summary>Reads what <paramref name="args"/> names; <paramref name="getenv"/> looks up environment variables.</summary>
    public static DeploySettings Load(DeployArguments args, Func<string, string?> getenv)
    {
        var client = new DeploymentClientOptions
        {
            Address = args.Manager ?? NonEmpty(getenv(ManagerEnvironmentVariable)) ?? DeploymentClientOptions.DefaultAddress,
            AdminToken = AdminToken(args, getenv),
            Timeout = TimeSpan.FromSeconds(args.TimeoutSeconds),
        };
        if (args.ManagerCa is not null)
        {
            client.UseSsl = true;
            client.RootCertificatesPem = Pem(args.ManagerCa, "--manager-ca");
        }
        return new DeploySettings(client)
        {
            Certificate = args.CertFile is null ? null : Pem(args.CertFile, "--cert"),
            PrivateKey = args.KeyFile is null ? null : Pem(args.KeyFile, "--key"),
            PrimaryKey = Key(args.PrimaryKeyEnv, getenv),
            SecondaryKey = Key(args.SecondaryKeyEnv, getenv),
        };
    }

    /// <summary>What a refusal of <see cref="Client"/> by <see cref="DeploymentClient"/>'s constructor says, in the command's
    /// terms: the flag instead of the option's name (the message names a setting, never the token).</summary>
    public string Explain(ScoringException error)
    {
        if (error.StatusCode == Grpc.Core.StatusCode.FailedPrecondition)
            return $"the admin token goes over plaintext only to a loopback manager (127.0.0.1, ::1, localhost): give --manager-ca PEM " +
                   $"to reach {Client.Address} over TLS (the manager's --tls-cert)";
        foreach (var (option, flag) in s_optionFlags)
            if (error.Details.StartsWith(option + " ", StringComparison.Ordinal))
                return flag + error.Details[option.Length..];
        return error.Details;
    }

    /// <summary>The options of <see cref="DeploymentClientOptions"/> the command sets, and where their values come from.</summary>
    private static readonly (string Option, string Flag)[] s_optionFlags =
    [
        ("Address", $"the manager's address (--manager or {ManagerEnvironmentVariable})"),
        ("AdminToken", "the admin token"),
        ("RootCertificatesPem", "--manager-ca"),
    ];

    /// <summary>The admin token: <c>--admin-token-file</c>'s content (trimmed), else the variable <c>--admin-token-env</c> names.</summary>
    private static string AdminToken(DeployArguments args, Func<string, string?> getenv)
    {
        if (args.AdminTokenFile is { } file)
        {
            var token = Read(file, "--admin-token-file").Trim();
            return token.Length > 0 ? token : throw new ArgumentException($"--admin-token-file: {file} is empty");
        }
        return NonEmpty(getenv(args.AdminTokenEnv))
               ?? throw new ArgumentException($"no admin token: set {args.AdminTokenEnv} (or --admin-token-file)");
    }

    /// <summary>The key in environment variable <paramref name="variable"/> (null when none is named).</summary>
    private static string? Key(string? variable, Func<string, string?> getenv) =>
        variable is null ? null
            : NonEmpty(getenv(variable)) ?? throw new ArgumentException($"environment variable {variable} is not set or empty");

    /// <summary>The text of the PEM file <paramref name="path"/> given to <paramref name="flag"/>.</summary>
    private static string Pem(string path, string flag)
    {
        var text = Read(path, flag);
        // Never shown: the file may hold a private key. The client takes text without a PEM header for a path.
        return text.Contains("-----BEGIN", StringComparison.Ordinal)
            ? text : throw new ArgumentException($"{flag}: {path} is not a PEM file (no '-----BEGIN')");
    }

    private static string Read(string path, string flag)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
                UnauthorizedAccessException => "permission denied (or a directory)",
                _ => e.Message,
            };
            throw new ArgumentException($"{flag}: {why}: {path}");
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
