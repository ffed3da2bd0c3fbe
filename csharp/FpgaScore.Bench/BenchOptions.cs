using System.Globalization;

namespace FpgaScore.Bench;

/// <summary>The command line (the flags are shared with the Python and Go benchmark commands).</summary>
internal sealed class BenchOptions
{
    public const string Usage =
        "usage: FpgaScore.Bench --host H --port P [--tls --ca PEM_FILE [--server-name NAME] [--key-env VAR]] " +
        "--payload jpeg|batch8|tensor --image PATH --concurrency N --calls M [--warmup W] --mode client|stub|A/B [--phase-calls K]\n" +
        "  --mode A/B (A and B each client or stub, e.g. client/stub or the A/A test stub/stub) measures both sides in one\n" +
        "  process: alternating phases A B B A A B ..., each of K calls (default 40) split over the N workers, with all\n" +
        "  workers waiting for each other between phases, until each side made at least M calls; one JSON line per side.";

    public string Host { get; private set; } = "";
    public int Port { get; private set; }
    public bool Tls { get; private set; }
    public string? Ca { get; private set; }
    public string? ServerName { get; private set; }
    /// <summary>The key, read from the environment variable --key-env names (never a flag value).</summary>
    public string? Key { get; private set; }
    public string Payload { get; private set; } = "";
    public string Image { get; private set; } = "";
    public int Concurrency { get; private set; }
    public int Calls { get; private set; }
    /// <summary>Warm-up calls per worker, not measured.</summary>
    public int Warmup { get; private set; } = 20;
    /// <summary>The --mode value as given: one mode, or two joined by '/' (paired mode).</summary>
    public string Mode { get; private set; } = "";
    /// <summary>The modes of <see cref="Mode"/>: one, or side A and side B of a paired run.</summary>
    public IReadOnlyList<string> Sides { get; private set; } = [];
    /// <summary>True when <see cref="Mode"/> names two sides to measure in alternating phases.</summary>
    public bool IsPaired => Sides.Count == 2;
    /// <summary>Calls per phase of a paired run, split over the workers.</summary>
    public int PhaseCalls { get; private set; } = 40;

    /// <exception cref="ArgumentException">A missing, unknown or invalid flag.</exception>
    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        bool hasPort = false, hasConcurrency = false, hasCalls = false;
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value");
            int Int(int min)
            {
                var text = Value();
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min)
                    throw new ArgumentException($"{flag} must be an integer >= {min}, got '{text}'");
                return n;
            }
            switch (flag)
            {
                case "--host": o.Host = Value(); break;
                case "--port": o.Port = Int(1); hasPort = true; break;
                case "--tls": o.Tls = true; break;
                case "--ca": o.Ca = Value(); break;
                case "--server-name": o.ServerName = Value(); break;
                case "--key-env":
                    var name = Value();
                    o.Key = Environment.GetEnvironmentVariable(name);
                    if (string.IsNullOrEmpty(o.Key)) throw new ArgumentException($"the variable {name} named by --key-env is empty");
                    break;
                case "--payload": o.Payload = Value(); break;
                case "--image": o.Image = Value(); break;
                case "--concurrency": o.Concurrency = Int(1); hasConcurrency = true; break;
                case "--calls": o.Calls = Int(1); hasCalls = true; break;
                case "--warmup": o.Warmup = Int(0); break;
                case "--mode": o.Mode = Value(); break;
                case "--phase-calls": o.PhaseCalls = Int(1); break;
                case "-h" or "--help": throw new ArgumentException("help");
                default: throw new ArgumentException($"unknown argument '{flag}'");
            }
        }
        if (o.Host.Length == 0) throw new ArgumentException("--host is required");
        if (!hasPort || o.Port > 65535) throw new ArgumentException("--port is required (1..65535)");
        if (o.Payload is not ("jpeg" or "batch8" or "tensor")) throw new ArgumentException("--payload must be jpeg, batch8 or tensor");
        if (o.Image.Length == 0) throw new ArgumentException("--image is required");
        if (!hasConcurrency) throw new ArgumentException("--concurrency is required");
        if (!hasCalls) throw new ArgumentException("--calls is required");
        o.Sides = ParseSides(o.Mode);
        if (!o.Tls && (o.Ca is not null || o.ServerName is not null || o.Key is not null))
            throw new ArgumentException("--ca, --server-name and --key-env need --tls");
        return o;
    }

    /// <summary>Splits --mode into its one or two sides, each a mode <see cref="Callers.Create"/> knows.</summary>
    private static string[] ParseSides(string mode)
    {
        var sides = mode.Split('/');
        if (sides.Length is not (1 or 2) || !sides.All(Callers.Modes.Contains))
            throw new ArgumentException(
                "--mode must be client, stub, or two of them joined by '/' (client/stub, stub/client, stub/stub, " +
                $"client/client), got '{mode}'");
        return sides;
    }
}
