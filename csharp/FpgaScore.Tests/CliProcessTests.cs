using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FpgaScore.Cli;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>
/// The built C# command (<c>dotnet FpgaScore.Cli.dll service ...</c>) as a process: its exit status and streams through
/// <c>Program.cs</c>, with the token and the manager from its environment, and Ctrl+C (SIGINT) cancelling a call in flight.
/// </summary>
public sealed class CliProcessTests
{
    [Fact]
    public async Task TheCommandsExitStatusAndStreams()
    {
        using var manager = await Manager.StartAsync();
        var env = Commands.EnvironmentOf(manager);
        var registered = await Commands.RunAsync(Commands.StartCSharpProcess(env, "model", "register", "--name", "resnet50"));
        Assert.Equal((0, "model resnet50:1 registered\n", ""), (registered.Code, registered.Stdout, registered.Stderr));
        var listed = await Commands.RunAsync(Commands.StartCSharpProcess(env, "service", "list", "--json"));
        Assert.Equal((0, "[]\n", ""), (listed.Code, listed.Stdout, listed.Stderr));
        var missing = await Commands.RunAsync(Commands.StartCSharpProcess(env, "service", "get", "missing"));
        Assert.Equal((1, "", "error: NOT_FOUND: service 'missing' not found\n"), (missing.Code, missing.Stdout, missing.Stderr));
        var usage = await Commands.RunAsync(Commands.StartCSharpProcess(env, "service", "get"));
        Assert.Equal((2, ""), (usage.Code, usage.Stdout));
        Assert.StartsWith("fpgascore: service get takes one SERVICE", usage.Stderr);
        var help = await Commands.RunAsync(Commands.StartCSharpProcess(env, "service", "--help"));
        Assert.Equal((0, DeployArguments.Usage + "\n"), (help.Code, help.Stdout));
        var top = await Commands.RunAsync(Commands.StartCSharpProcess(env, "--help"));
        Assert.Contains("fpgascore service ... | model ...", top.Stdout);
        env.Remove(DeploymentClientOptions.AdminTokenEnvironmentVariable);
        var noToken = await Commands.RunAsync(Commands.StartCSharpProcess(env, "service", "list"));
        Assert.Equal((2, "", "fpgascore: no admin token: set FPGASCORE_ADMIN_TOKEN (or --admin-token-file)\n"),
            (noToken.Code, noToken.Stdout, noToken.Stderr));
    }

    [Fact]
    public async Task CtrlCCancelsTheCallInFlight()
    {
        // A manager that takes the connection and never answers: the call waits for its 100 s deadline unless cancelled.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var env = new Dictionary<string, string> { [DeploymentClientOptions.AdminTokenEnvironmentVariable] = "admin-token-of-a-silent-manager" };
        var process = Commands.StartCSharpProcess(env, "service", "list", "--manager", $"127.0.0.1:{port}", "--timeout", "100");
        var pid = process.Id;
        var run = Commands.RunAsync(process);
        using var connection = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var preface = new byte[24]; // HTTP/2's connection preface: the call is on its way
        await connection.GetStream().ReadExactlyAsync(preface).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        using (var kill = Process.Start("kill", ["-INT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        var result = await run;
        Assert.Equal((DeployCommand.Cancelled, "", "fpgascore: cancelled\n"), (result.Code, result.Stdout, result.Stderr));
    }
}
