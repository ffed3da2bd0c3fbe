using System.Diagnostics;
using FpgaScore.Cli;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>What a run of a command printed, and its exit status.</summary>
public sealed record CommandResult(int Code, string Stdout, string Stderr)
{
    /// <summary>Both streams, for checks that a secret shows in neither.</summary>
    public string All => Stdout + Stderr;

    public override string ToString() => $"exit {Code}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>
/// The <c>service</c> and <c>model</c> commands of the C# CLI (in this process, with an environment of the test's own),
/// of the Python CLI (<c>/usr/bin/python3 -m fpgascore</c> from python/src, the peer of the parity tests) and of the
/// built C# CLI as a process of its own (<c>dotnet FpgaScore.Cli.dll</c>, copied beside the tests by the project reference).
/// </summary>
public static class Commands
{
    /// <summary>The environment of a command that talks to <paramref name="manager"/>: its admin token and address.</summary>
    public static Dictionary<string, string> EnvironmentOf(Manager manager) => new()
    {
        [DeploymentClientOptions.AdminTokenEnvironmentVariable] = manager.Token,
        [DeploySettings.ManagerEnvironmentVariable] = manager.Address,
    };

    /// <summary>The C# command with <paramref name="args"/>; <paramref name="env"/> is its whole environment.</summary>
    public static async Task<CommandResult> CSharpAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await DeployCommand.MainAsync(args, stdout, stderr, name => env.GetValueOrDefault(name), CancellationToken.None);
        return new CommandResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The Python command (<c>python3 -m fpgascore ARGS</c>) with <paramref name="env"/> over an environment
    /// without the admin token, the manager's address or GRPC_ variables.</summary>
    public static Task<CommandResult> PythonAsync(IReadOnlyDictionary<string, string> env, params string[] args) =>
        RunAsync(Start(Python, ["-B", "-m", "fpgascore", .. args], env,
            new Dictionary<string, string> { ["PYTHONPATH"] = Path.Combine(RepoPaths.Root, "python", "src") }));

    /// <summary>The built C# command (<c>dotnet FpgaScore.Cli.dll ARGS</c>, from the CLI project's own output folder of this
    /// build's configuration: the copy beside the tests resolves its dependencies with the tests' versions), started with
    /// <paramref name="env"/> (as <see cref="PythonAsync"/>); the caller reads its output (<see cref="RunAsync"/>) and may
    /// signal it.</summary>
    /// <remarks>Started through <c>env --default-signal=INT</c> (GNU coreutils): a shell that runs a command in the
    /// background without job control (<c>scripts/test-all.sh &amp;</c>, a CI's runner) starts it with SIGINT ignored, every
    /// process below inherits that, and .NET then keeps SIGINT ignored, as a shell's command should: the Ctrl+C test needs
    /// the command to hear it.</remarks>
    public static Process StartCSharpProcess(IReadOnlyDictionary<string, string> env, params string[] args) =>
        Start("/usr/bin/env", ["--default-signal=INT", "dotnet", CliAssembly, .. args], env, []);

    /// <summary>csharp/FpgaScore.Cli/bin/CONFIGURATION/TFM/FpgaScore.Cli.dll, as the project reference built it.</summary>
    private static string CliAssembly
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var path = Path.Combine(RepoPaths.Root, "csharp", "FpgaScore.Cli", "bin", framework.Parent!.Name, framework.Name, "FpgaScore.Cli.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"no built CLI at {path} (dotnet build csharp/FpgaScore.sln)");
        }
    }

    /// <summary>Waits (at most 120 s) for <paramref name="process"/> to end; its output and exit status.</summary>
    public static async Task<CommandResult> RunAsync(Process process)
    {
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(true);
                throw new TimeoutException($"{process.StartInfo.FileName} {string.Join(" ", process.StartInfo.ArgumentList)} ran for 120 s");
            }
            return new CommandResult(process.ExitCode, await stdout, await stderr);
        }
    }

    /// <summary>Debian's Python, as scripts/run-emulator runs it (FPGASCORE_PYTHON overrides it).</summary>
    private static string Python => Environment.GetEnvironmentVariable("FPGASCORE_PYTHON") is { Length: > 0 } python ? python : "/usr/bin/python3";

    private static Process Start(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string> env,
        Dictionary<string, string> extra)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.ToList())
        {
            if (name is DeploymentClientOptions.AdminTokenEnvironmentVariable or DeploySettings.ManagerEnvironmentVariable
                || name.StartsWith("GRPC_", StringComparison.Ordinal))
                info.Environment.Remove(name);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in extra.Concat(env)) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
    }
}
