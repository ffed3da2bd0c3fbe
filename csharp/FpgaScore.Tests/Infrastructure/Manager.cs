using System.Collections.Concurrent;
using System.Diagnostics;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>
/// A real manager (<c>scripts/run-emulator manage --runtime process</c>) on 127.0.0.1 with a state directory and an admin
/// token file of its own, under the test servers' watchdog. <see cref="RestartAsync"/> after <see cref="Kill"/> starts it
/// again on the same state directory and port, as a restarted manager. <see cref="Dispose"/> deletes its services
/// through the API, stops it, and then kills by pid any reference server still running from its state directory.
/// </summary>
public sealed class Manager : IDisposable
{
    private readonly ConcurrentQueue<string> _log = new();
    private readonly string _dir;
    private readonly string[] _extraArgs;
    private Process? _process;

    private Manager(string dir, string[] extraArgs)
    {
        _extraArgs = extraArgs;
        _dir = dir;
        Directory.CreateDirectory(dir);
        StateDir = Path.Combine(dir, "state");
        TokenFile = Path.Combine(dir, "admin.token");
        Token = "admin-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        File.WriteAllText(TokenFile, Token + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(TokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public string StateDir { get; }
    public string TokenFile { get; }
    public string Token { get; }
    public int Port { get; private set; }
    public string Address => $"127.0.0.1:{Port}";
    public bool Running => _process is { HasExited: false };

    /// <summary>The manager's output (every start), for failure messages and for checks that no secret is logged.</summary>
    public string Logs => string.Join("\n", _log);

    /// <summary>How many lines <see cref="Logs"/> has: <see cref="LogsSince"/> that count is what came after.</summary>
    public int LogLineCount => _log.Count;

    /// <summary>The lines logged after the first <paramref name="lines"/>.</summary>
    public string LogsSince(int lines) => string.Join("\n", _log.Skip(lines));

    /// <summary>Waits (at most 30 s) until a line after the first <paramref name="lines"/> holds <paramref name="text"/>: the
    /// manager logs before it serves, but its output is read asynchronously. Returns whether one did.</summary>
    public async Task<bool> WaitForLogAsync(string text, int lines)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!LogsSince(lines).Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > until) return false;
            await Task.Delay(50);
        }
        return true;
    }

    /// <summary>The pid of the manager itself (not its watchdog).</summary>
    public int Pid { get; private set; }

    /// <summary>A manager started with <paramref name="tls"/> as its own certificate (<c>--tls-cert</c>), when given.</summary>
    public static async Task<Manager> StartAsync(CertFiles? tls = null)
    {
        var extra = tls is null ? [] : new[] { "--tls-cert", tls.Cert, "--tls-key", tls.Key };
        var manager = new Manager(Path.Combine(RunDirectory.Path, "manager-" + Guid.NewGuid().ToString("N")[..8]), extra);
        try
        {
            await manager.RestartAsync();
        }
        catch
        {
            manager.Dispose();
            throw;
        }
        return manager;
    }

    public DeploymentClient Client(Action<DeploymentClientOptions>? configure = null)
    {
        var options = new DeploymentClientOptions { Address = Address, AdminToken = Token, Timeout = TimeSpan.FromSeconds(90) };
        configure?.Invoke(options);
        return new DeploymentClient(options);
    }

    /// <summary>Starts the manager (again, on the same state directory and, after the first start, the same port) and
    /// waits until it serves (its port file is written).</summary>
    public async Task RestartAsync()
    {
        if (Running) throw new InvalidOperationException("the manager is running");
        var portFile = Path.Combine(_dir, "port");
        var pidFile = Path.Combine(_dir, "pid");
        File.Delete(portFile);
        File.Delete(pidFile);
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-c", Watchdog.Script, "fpgascore-manager-watchdog", RepoPaths.Emulator, "manage",
                     "--runtime", "process", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--port-file", portFile, "--state-dir", StateDir, "--admin-token-file", TokenFile, "--monitor-interval", "0.5" })
            info.ArgumentList.Add(arg);
        foreach (var arg in _extraArgs) info.ArgumentList.Add(arg);
        info.Environment.Remove(DeploymentClientOptions.AdminTokenEnvironmentVariable);
        info.Environment[Watchdog.PidFileVariable] = pidFile;
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start the manager");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process?.Dispose();
        _process = process;

        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"the manager exited ({process.ExitCode}):\n{Logs}");
            if (File.Exists(portFile) && int.TryParse((await File.ReadAllTextAsync(portFile)).Trim(), out var port) && port > 0
                && File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), out var pid))
            {
                Port = port;
                Pid = pid;
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"the manager did not write its port file in 90 s:\n{Logs}");
    }

    /// <summary>SIGKILL to the manager (a crash): its services keep running.</summary>
    public void Kill()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            try
            {
                using var manager = Process.GetProcessById(Pid);
                manager.Kill(); // the manager only: its servers run in sessions of their own and must survive
            }
            catch (ArgumentException) { } // already gone
        }
        _process.WaitForExit(30_000); // the watchdog exits with it
        CloseWatchdog();
    }

    /// <summary>The reference servers (<c>serve</c>) whose arguments name a file under this manager's state directory.</summary>
    public IReadOnlyList<int> ServerPids()
    {
        var prefix = Path.GetFullPath(Path.Combine(StateDir, "services")) + Path.DirectorySeparatorChar;
        var pids = new List<int>();
        foreach (var entry in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                var argv = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
                var state = File.ReadAllText(Path.Combine(entry, "stat")).Split(')')[^1].Trim().Split(' ')[0];
                if (state != "Z" && argv.Contains("serve") && argv.Any(a => a.StartsWith(prefix, StringComparison.Ordinal)))
                    pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return pids;
    }

    /// <summary>The nginx masters (a service's balancer, with more than one replica) whose configuration is under this
    /// manager's state directory.</summary>
    public IReadOnlyList<int> BalancerPids()
    {
        var marker = " -c " + Path.GetFullPath(Path.Combine(StateDir, "services")) + Path.DirectorySeparatorChar;
        var pids = new List<int>();
        foreach (var entry in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                var line = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ');
                if (line.StartsWith("nginx: master process", StringComparison.Ordinal) && line.Contains(marker, StringComparison.Ordinal))
                    pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return pids;
    }

    public void Dispose()
    {
        try
        {
            if (!Running && _process is not null) RestartAsync().GetAwaiter().GetResult();
            if (Running)
            {
                using var client = Client(o => o.Timeout = TimeSpan.FromSeconds(60));
                foreach (var service in client.ListServicesAsync().GetAwaiter().GetResult())
                {
                    try { client.DeleteServiceAsync(service.Id).GetAwaiter().GetResult(); } catch (ScoringException) { }
                }
            }
        }
        catch (Exception e) when (e is ScoringException or InvalidOperationException or TimeoutException) { }
        CloseWatchdog();
        if (_process is not null && !_process.WaitForExit(30_000)) Kill();
        _process?.Dispose();
        foreach (var pid in ServerPids().Concat(BalancerPids()))
        {
            try
            {
                using var server = Process.GetProcessById(pid);
                server.Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
        }
        try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Closes the watchdog's stdin: it stops the manager (SIGTERM) if still running.</summary>
    private void CloseWatchdog()
    {
        try { _process?.StandardInput.Close(); } catch (Exception e) when (e is InvalidOperationException or IOException) { }
    }
}
