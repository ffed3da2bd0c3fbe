using System.Globalization;

namespace FpgaScore.Cli;

/// <summary>
/// The parsed command line of <c>fpgascore service ...</c> and <c>fpgascore model ...</c>: the verbs and flags of the
/// Python (<c>python/src/fpgascore/_deploy_cli.py</c>) and Go (<c>go/cmd/fpgascore/service.go</c>) commands. Flags may
/// come before or after the SERVICE argument; <c>--flag=VALUE</c> is <c>--flag VALUE</c>. Each action takes only its own
/// flags and the connection flags; a bad one is an <see cref="ArgumentException"/> (exit status 2).
/// </summary>
internal sealed class DeployArguments
{
    public const string Usage = """
        usage: fpgascore service create --name NAME [--model M] [--ssl --cert PEM --key PEM]
                                        [--primary-key-env VAR] [--secondary-key-env VAR] [--replicas N]
               fpgascore service update SERVICE [--ssl | --no-ssl] [--cert PEM --key PEM] [--model M] [--replicas N]
               fpgascore service get | keys | delete SERVICE
               fpgascore service list
               fpgascore service regenerate-keys SERVICE --type primary|secondary
               fpgascore service export --kubernetes SERVICE [-o FILE] [--image IMAGE] [--replicas N]
               fpgascore model register --name NAME [--description D] [--tag KEY=VALUE]...
               fpgascore model list
          every one: [--manager HOST:PORT] [--admin-token-env VAR | --admin-token-file FILE]
                     [--manager-ca PEM] [--timeout SECONDS] [--json]

        The manager is --manager (else $FPGASCORE_MANAGER, else 127.0.0.1:50055); the admin token
        is read from $FPGASCORE_ADMIN_TOKEN (or the variable --admin-token-env names, or
        --admin-token-file), never from a flag value. create prints the address and the keys once.
        """;

    /// <summary>The actions of each command, and whether each takes a SERVICE argument.</summary>
    private static readonly Dictionary<string, Dictionary<string, bool>> s_actions = new()
    {
        ["service"] = new()
        {
            ["create"] = false,
            ["update"] = true,
            ["get"] = true,
            ["keys"] = true,
            ["delete"] = true,
            ["list"] = false,
            ["regenerate-keys"] = true,
            ["export"] = true,
        },
        ["model"] = new() { ["register"] = false, ["list"] = false },
    };

    /// <summary>The flags every action takes.</summary>
    private static readonly string[] s_connectionFlags = ["manager", "admin-token-env", "admin-token-file", "manager-ca", "timeout", "json"];

    /// <summary>The flags of each action besides <see cref="s_connectionFlags"/>.</summary>
    private static readonly Dictionary<string, string[]> s_actionFlags = new()
    {
        ["service create"] = ["name", "model", "ssl", "cert", "key", "primary-key-env", "secondary-key-env", "replicas"],
        ["service update"] = ["ssl", "no-ssl", "cert", "key", "model", "replicas"],
        ["service export"] = ["kubernetes", "output", "image", "replicas"],
        ["service regenerate-keys"] = ["type"],
        ["model register"] = ["name", "description", "tag"],
    };

    /// <summary>The flags without a value.</summary>
    private static readonly HashSet<string> s_switches = ["json", "ssl", "no-ssl", "kubernetes"];

    /// <summary>The flags with a value (<c>-o</c> is <c>--output</c>).</summary>
    private static readonly HashSet<string> s_valued =
    [
        "manager", "admin-token-env", "admin-token-file", "manager-ca", "timeout", "name", "model", "cert", "key",
        "primary-key-env", "secondary-key-env", "replicas", "type", "output", "image", "description", "tag",
    ];

    /// <summary><c>service</c> or <c>model</c>.</summary>
    public string Command { get; private set; } = "";

    /// <summary>The verb: <c>create</c>, <c>list</c>, <c>regenerate-keys</c>, ...</summary>
    public string Action { get; private set; } = "";

    /// <summary>The SERVICE argument (an id or a name) of the actions that take one.</summary>
    public string Service { get; private set; } = "";

    /// <summary><c>--help</c> (or <c>-h</c>) was given: print <see cref="Usage"/> on stdout, exit 0.</summary>
    public bool Help { get; private set; }

    /// <summary><c>--manager</c>; null: <c>$FPGASCORE_MANAGER</c>, else 127.0.0.1:50055.</summary>
    public string? Manager { get; private set; }

    public string AdminTokenEnv { get; private set; } = DeploymentClientOptions.AdminTokenEnvironmentVariable;
    public string? AdminTokenFile { get; private set; }
    public string? ManagerCa { get; private set; }

    /// <summary>The default of <c>--timeout</c>: the client's (a create waits until the service serves).</summary>
    public const double DefaultTimeoutSeconds = 120;

    public double TimeoutSeconds { get; private set; } = DefaultTimeoutSeconds;
    public bool Json { get; private set; }
    public string? Name { get; private set; }
    /// <summary><c>--model</c>: create's model (default resnet50), or update's new one.</summary>
    public string? Model { get; private set; }
    public bool Ssl { get; private set; }
    public bool NoSsl { get; private set; }
    public string? CertFile { get; private set; }
    public string? KeyFile { get; private set; }
    public string? PrimaryKeyEnv { get; private set; }
    public string? SecondaryKeyEnv { get; private set; }
    /// <summary><c>--replicas</c>; null when not given (create: 1; update: unchanged; export: the service's).</summary>
    public int? Replicas { get; private set; }
    public KeyType KeyType { get; private set; }
    public bool Kubernetes { get; private set; }
    public string? Output { get; private set; }
    public string? Image { get; private set; }
    public string Description { get; private set; } = "";
    /// <summary><c>--tag KEY=VALUE</c>, repeated (a tag without <c>=</c> has the value "").</summary>
    public SortedDictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/>, the command (<c>service</c> or <c>model</c>) and what follows it;
    /// throws <see cref="ArgumentException"/> on a bad one.</summary>
    public static DeployArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new DeployArguments { Command = args.Count > 0 ? args[0] : "" };
        if (!s_actions.TryGetValue(parsed.Command, out var actions))
            throw new ArgumentException($"unknown command '{parsed.Command}'");
        if (args.Count < 2) throw new ArgumentException($"{parsed.Command}: no action given");
        parsed.Action = args[1];
        if (parsed.Action is "-h" or "--help")
        {
            parsed.Help = true;
            return parsed;
        }
        if (!actions.TryGetValue(parsed.Action, out var takesService))
            throw new ArgumentException($"unknown action '{parsed.Action}' of {parsed.Command}");
        var verb = $"{parsed.Command} {parsed.Action}";
        var allowed = s_actionFlags.GetValueOrDefault(verb, []);
        var positional = new List<string>();
        var given = new HashSet<string>();
        for (int i = 2; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                positional.AddRange(args.Skip(i + 1));
                break;
            }
            if (arg is "-h" or "--help")
            {
                parsed.Help = true;
                return parsed;
            }
            if (!arg.StartsWith('-') || arg == "-")
            {
                positional.Add(arg);
                continue;
            }
            var (flag, inline) = SplitFlag(arg);
            if (!s_switches.Contains(flag) && !s_valued.Contains(flag)) throw new ArgumentException($"unknown option {arg}");
            if (!s_connectionFlags.Contains(flag) && !allowed.Contains(flag))
                throw new ArgumentException($"{verb} does not take --{flag}");
            given.Add(flag);
            if (s_switches.Contains(flag))
            {
                if (inline is not null) throw new ArgumentException($"--{flag} takes no value");
                parsed.SetSwitch(flag);
                continue;
            }
            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new ArgumentException($"--{flag} needs a value"));
            parsed.SetValue(flag, value);
        }
        if (takesService && positional.Count != 1)
            throw new ArgumentException($"{verb} takes one SERVICE (an id or a name)");
        if (!takesService && positional.Count != 0)
            throw new ArgumentException($"{verb} takes no argument ('{positional[0]}')");
        if (takesService) parsed.Service = positional[0];
        parsed.Check(verb, given);
        return parsed;
    }

    /// <summary><c>--flag</c> or <c>--flag=VALUE</c> (and <c>-o</c>, <c>-o=VALUE</c>) as the flag's name and its inline value.</summary>
    private static (string Flag, string? Inline) SplitFlag(string arg)
    {
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        var name = equals > 0 ? arg[..equals] : arg;
        var inline = equals > 0 ? arg[(equals + 1)..] : null;
        return name switch
        {
            "-o" => ("output", inline),
            _ when name.StartsWith("--", StringComparison.Ordinal) && name.Length > 2 => (name[2..], inline),
            _ => throw new ArgumentException($"unknown option {arg}"),
        };
    }

    private void SetSwitch(string flag)
    {
        switch (flag)
        {
            case "json": Json = true; break;
            case "ssl": Ssl = true; break;
            case "no-ssl": NoSsl = true; break;
            case "kubernetes": Kubernetes = true; break;
        }
    }

    private void SetValue(string flag, string value)
    {
        switch (flag)
        {
            case "manager": Manager = value; break;
            case "admin-token-env": AdminTokenEnv = value; break;
            case "admin-token-file": AdminTokenFile = value; break;
            case "manager-ca": ManagerCa = value; break;
            case "timeout":
                TimeoutSeconds = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                                 && double.IsFinite(seconds) && seconds > 0
                    ? seconds : throw new ArgumentException($"--timeout must be a positive number of seconds, not '{value}'");
                break;
            case "name": Name = value; break;
            case "model": Model = value; break;
            case "cert": CertFile = value; break;
            case "key": KeyFile = value; break;
            case "primary-key-env": PrimaryKeyEnv = value; break;
            case "secondary-key-env": SecondaryKeyEnv = value; break;
            case "replicas":
                Replicas = int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var replicas)
                    ? (replicas >= 1 ? replicas : throw new ArgumentException("--replicas must be at least 1"))
                    : throw new ArgumentException($"--replicas needs a whole number, not '{value}'");
                break;
            case "type":
                KeyType = value switch
                {
                    "primary" => KeyType.Primary,
                    "secondary" => KeyType.Secondary,
                    _ => throw new ArgumentException($"--type must be primary or secondary, not '{value}'"),
                };
                break;
            case "output": Output = value; break;
            case "image": Image = value; break;
            case "description": Description = value; break;
            case "tag":
                var equals = value.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0) Tags[value] = "";
                else Tags[value[..equals]] = value[(equals + 1)..];
                break;
        }
    }

    /// <summary>What the flags of <paramref name="verb"/> need together.</summary>
    private void Check(string verb, HashSet<string> given)
    {
        if (Action is "create" or "register" && string.IsNullOrEmpty(Name)) throw new ArgumentException($"{verb} needs --name");
        if (Action == "export" && !Kubernetes) throw new ArgumentException("service export needs --kubernetes (the one format)");
        if (Action == "regenerate-keys" && !given.Contains("type")) throw new ArgumentException("regenerate-keys needs --type primary|secondary");
        if (Ssl && NoSsl) throw new ArgumentException("--ssl and --no-ssl contradict each other");
        if (Action == "create" && (CertFile ?? KeyFile) is not null && !Ssl) throw new ArgumentException("--cert and --key need --ssl");
    }
}
