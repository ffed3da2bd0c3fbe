using System.Diagnostics;

namespace FpgaScore.Benchmarks;

/// <summary>Starts the reference server (scripts/run-emulator) on a free port when no --port is given.</summary>
internal sealed class LocalServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private LocalServer(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public static LocalServer Start()
    {
        var emulator = FindEmulator();
        var dir = Directory.CreateTempSubdirectory("fpgascore-bench-").FullName;
        var portFile = Path.Combine(dir, "port");
        var info = new ProcessStartInfo(emulator) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portFile, "--service-time-ms", "0", "--grace-seconds", "0" })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start the emulator");
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var until = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < until && !process.HasExited)
        {
            if (File.Exists(portFile) && int.TryParse(File.ReadAllText(portFile).Trim(), out var port) && port > 0)
                return new LocalServer(process, dir, port);
            Thread.Sleep(50);
        }
        process.Kill(true);
        throw new InvalidOperationException("the emulator did not start");
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(true);
        _process.WaitForExit(5000);
        _process.Dispose();
        Directory.Delete(_dir, true);
    }

    private static string FindEmulator()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "run-emulator");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("scripts/run-emulator not found above " + AppContext.BaseDirectory + "; pass --port");
    }
}
