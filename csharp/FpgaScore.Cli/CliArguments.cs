namespace FpgaScore.Cli;

/// <summary>The parsed command line of <c>fpgascore score</c>.</summary>
internal sealed class CliArguments
{
    public const string Usage = """
        usage: fpgascore score --host H --port P [--ssl] [--ca PEM] [--server-name NAME]
                               [--key-env VAR] [--bearer] [--allow-insecure-key]
                               [--timeout SECONDS] [--top K] [--batch-size N] [--json] IMG...
               fpgascore --version

        Scores the images, N per call (8 by default; the reference server takes up to 32), and
        prints the top-K classes of each (K = 5 by default), in the order given.
          --ssl                 use TLS (system roots unless --ca)
          --ca PEM              root certificates file to trust instead of the system's
          --server-name NAME    name to check the server certificate against
          --key-env VAR         read the access key from environment variable VAR
          --bearer              send the key as 'Bearer KEY'
          --allow-insecure-key  allow sending the key without TLS
          --timeout SECONDS     deadline of each call, retries included (default 10)
          --batch-size N        images per call (default 8)
          --json                print JSON instead of text
        """;

    /// <summary>What <c>fpgascore --version</c> prints: <c>fpgascore X.Y.Z</c>, the package version (the
    /// repository's VERSION, through Directory.Build.props), without SourceLink's <c>+commit</c> suffix.</summary>
    public static string VersionLine
    {
        get
        {
            var informational = typeof(CliArguments).Assembly
                .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "";
            var plus = informational.IndexOf('+');
            return "fpgascore " + (plus >= 0 ? informational[..plus] : informational);
        }
    }

    public string Host { get; private set; } = "localhost";
    public int Port { get; private set; } = 50051;
    public bool Ssl { get; private set; }
    public string? CaFile { get; private set; }
    public string? ServerName { get; private set; }
    public string? KeyEnv { get; private set; }
    public bool Bearer { get; private set; }
    public bool AllowInsecureKey { get; private set; }
    public double TimeoutSeconds { get; private set; } = 10;
    public int Top { get; private set; } = 5;
    /// <summary>The default of <c>--batch-size</c>: well under the reference server's 32 images per call (its <c>--max-batch</c>).</summary>
    public const int DefaultBatchSize = 8;
    public int BatchSize { get; private set; } = DefaultBatchSize;
    public bool Json { get; private set; }
    public List<string> Images { get; } = [];

    /// <summary>Parses the arguments after the command name; throws <see cref="ArgumentException"/> on a bad one.</summary>
    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new CliArguments();
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--host": parsed.Host = Value(); break;
                case "--port": parsed.Port = ParseInt(Value(), "--port"); break;
                case "--ssl": parsed.Ssl = true; break;
                case "--ca": parsed.CaFile = Value(); parsed.Ssl = true; break;
                case "--server-name": parsed.ServerName = Value(); break;
                case "--key-env": parsed.KeyEnv = Value(); break;
                case "--bearer": parsed.Bearer = true; break;
                case "--allow-insecure-key": parsed.AllowInsecureKey = true; break;
                case "--timeout":
                    parsed.TimeoutSeconds = double.TryParse(Value(), System.Globalization.CultureInfo.InvariantCulture, out var t) && t > 0
                        ? t : throw new ArgumentException("--timeout needs a positive number of seconds");
                    break;
                case "--top": parsed.Top = ParseInt(Value(), "--top"); break;
                case "--batch-size": parsed.BatchSize = ParseInt(Value(), "--batch-size"); break;
                case "--json": parsed.Json = true; break;
                case "--": parsed.Images.AddRange(args.Skip(i + 1)); i = args.Count; break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unknown option {args[i]}");
                    parsed.Images.Add(args[i]);
                    break;
            }
        }
        if (parsed.Images.Count == 0) throw new ArgumentException("no image given");
        return parsed;
    }

    private static int ParseInt(string text, string option) =>
        int.TryParse(text, out var value) && value > 0 ? value : throw new ArgumentException($"{option} needs a positive integer");
}
