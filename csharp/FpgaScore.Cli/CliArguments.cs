using System.Globalization;

namespace FpgaScore.Cli;

/// <summary>The parsed command line of <c>fpgascore score</c>: the flags of the Python and Go commands
/// (conformance/CLIENT_SPEC.md, "Command line"), before or after the image paths.</summary>
internal sealed class CliArguments
{
    public const string Usage = """
        usage: fpgascore score [--host H] [--port P] [--ssl] [--ca PEM] [--server-name NAME]
                               [--key-env VAR] [--secondary-key-env VAR] [--bearer] [--allow-insecure-key]
                               [--timeout SECONDS] [--retries N] [--top K] [--batch-size N] [--model NAME]
                               [--json] IMG...
               fpgascore service ... | model ...   (fpgascore service --help)
               fpgascore --version | --help

        Scores the images, N per call (8 by default; the reference server takes up to 32), and
        prints the top-K classes of each (K = 5 by default), in the order given. Flags may come
        before or after the image paths.
          --host H                  service host (default 127.0.0.1)
          --port P                  service port (default 50051)
          --ssl                     use TLS (system roots unless --ca)
          --ca PEM                  root certificates file to trust instead of the system's (implies --ssl)
          --server-name NAME        name to check the server certificate against (implies --ssl)
          --key-env VAR             read the access key from environment variable VAR
          --secondary-key-env VAR   read the secondary key from environment variable VAR
          --bearer                  send the key as 'Bearer KEY'
          --allow-insecure-key      allow sending the key without TLS
          --timeout SECONDS         deadline of each call in seconds, retries included (default 10)
          --retries N               max attempts per call (default 4; 1 = no retry)
          --top K, --top-k K        classes to print per image (default 5)
          --batch-size N            images per call (default 8)
          --model NAME              model name (default resnet50)
          --json                    print one JSON document instead of text
          --version, --help         print the version or this help and exit
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

    /// <summary>What a key without TLS (and without <c>--allow-insecure-key</c>) says: a usage error.</summary>
    public const string KeyWithoutTls = "a key (--key-env) is only sent over TLS: add --ssl (or --ca PEM), "
                                        + "or --allow-insecure-key for a trusted network or a local test server";

    public string Host { get; private set; } = "127.0.0.1";
    public int Port { get; private set; } = 50051;
    public bool Ssl { get; private set; }
    public string? CaFile { get; private set; }
    public string? ServerName { get; private set; }
    public string? KeyEnv { get; private set; }
    public string? SecondaryKeyEnv { get; private set; }
    public bool Bearer { get; private set; }
    public bool AllowInsecureKey { get; private set; }
    public double TimeoutSeconds { get; private set; } = 10;
    public int Retries { get; private set; } = 4;
    public int Top { get; private set; } = 5;
    /// <summary>The default of <c>--batch-size</c>: well under the reference server's 32 images per call (its <c>--max-batch</c>).</summary>
    public const int DefaultBatchSize = 8;
    public int BatchSize { get; private set; } = DefaultBatchSize;
    public string Model { get; private set; } = "resnet50";
    public bool Json { get; private set; }
    /// <summary><c>--help</c> (or <c>-h</c>) was given: print <see cref="Usage"/> on stdout, exit 0.</summary>
    public bool Help { get; private set; }
    /// <summary><c>--version</c> was given: print <see cref="VersionLine"/> on stdout, exit 0.</summary>
    public bool Version { get; private set; }
    public List<string> Images { get; } = [];

    /// <summary>Parses the arguments after the command name; throws <see cref="ArgumentException"/> on a bad one.</summary>
    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        args = SplitInlineValues(args);
        var parsed = new CliArguments();
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--host": parsed.Host = Value(); break;
                case "--port":
                    parsed.Port = ParseInt(Value(), "--port");
                    if (parsed.Port > 65535) throw new ArgumentException("--port must be 1 to 65535");
                    break;
                case "--ssl": parsed.Ssl = true; break;
                case "--ca": parsed.CaFile = Value(); parsed.Ssl = true; break;
                case "--server-name": parsed.ServerName = Value(); parsed.Ssl = true; break;
                case "--key-env": parsed.KeyEnv = Value(); break;
                case "--secondary-key-env": parsed.SecondaryKeyEnv = Value(); break;
                case "--bearer": parsed.Bearer = true; break;
                case "--allow-insecure-key": parsed.AllowInsecureKey = true; break;
                case "--timeout":
                    parsed.TimeoutSeconds = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var t)
                                            && double.IsFinite(t) && t > 0
                        ? t : throw new ArgumentException("--timeout needs a positive number of seconds");
                    break;
                case "--retries": parsed.Retries = ParseInt(Value(), "--retries"); break;
                case "--top" or "--top-k": parsed.Top = ParseInt(Value(), args[i - 1]); break;
                case "--batch-size": parsed.BatchSize = ParseInt(Value(), "--batch-size"); break;
                case "--model": parsed.Model = Value(); break;
                case "--json": parsed.Json = true; break;
                case "--help" or "-h": parsed.Help = true; return parsed;
                case "--version": parsed.Version = true; return parsed;
                case "--": parsed.Images.AddRange(args.Skip(i + 1)); i = args.Count; break;
                default:
                    if (args[i].StartsWith('-') && args[i] != "-") throw new ArgumentException($"unknown option {args[i]}");
                    parsed.Images.Add(args[i]);
                    break;
            }
        }
        if (parsed.Images.Count == 0) throw new ArgumentException("no image given (IMG...)");
        return parsed;
    }

    /// <summary><paramref name="args"/> with each <c>--flag=VALUE</c> before <c>--</c> as <c>--flag VALUE</c>, as the
    /// Python and Go commands take it.</summary>
    private static List<string> SplitInlineValues(IReadOnlyList<string> args)
    {
        var split = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                split.AddRange(args.Skip(i));
                break;
            }
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 2)
                split.AddRange([arg[..equals], arg[(equals + 1)..]]);
            else
                split.Add(arg);
        }
        return split;
    }

    private static int ParseInt(string text, string option) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value : throw new ArgumentException($"{option} needs a positive integer");
}
