using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>Settings of one reference server (the emulator, <c>scripts/run-emulator serve</c>).</summary>
public sealed record EmulatorSettings
{
    public CertFiles? Tls { get; init; }
    public string? PrimaryKey { get; init; }
    public string? SecondaryKey { get; init; }
    public bool RequireAuth { get; init; }
    public string[] ExtraArgs { get; init; } = [];
}

/// <summary>A running reference server on 127.0.0.1 with <c>--conformance</c>; its JSON log lines are kept.</summary>
public sealed class Emulator : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<JsonElement> _log = new();
    private readonly ConcurrentQueue<string> _rawLog = new();
    private readonly string _dir;


    private Emulator(Process process, string dir, int port, bool tls)
    {
        _process = process;
        _dir = dir;
        Port = port;
        Tls = tls;
    }

    public int Port { get; }
    public bool Tls { get; }

    /// <summary>Starts a server and waits until it listens (its port file is written).</summary>
    public static async Task<Emulator> StartAsync(EmulatorSettings settings)
    {
        var dir = Path.Combine(RunDirectory.Path, "emulator-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var portFile = Path.Combine(dir, "port");
        // A small shell watchdog runs the server and stops it when its stdin (our pipe) closes, so no
        // server outlives the test process, however that process ends.
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-c", Watchdog.Script, "fpgascore-emulator-watchdog", RepoPaths.Emulator })
            info.ArgumentList.Add(arg);
        foreach (var arg in new[] { "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portFile,
                     "--conformance", "--service-time-ms", "0", "--grace-seconds", "0" })
            info.ArgumentList.Add(arg);
        if (settings.Tls is { } tls)
            foreach (var arg in new[] { "--tls-cert", tls.Cert, "--tls-key", tls.Key }) info.ArgumentList.Add(arg);
        if (settings.PrimaryKey is not null) AddKeyFile(info, dir, "--primary-key-file", "primary", settings.PrimaryKey);
        if (settings.SecondaryKey is not null) AddKeyFile(info, dir, "--secondary-key-file", "secondary", settings.SecondaryKey);
        if (settings.RequireAuth) info.ArgumentList.Add("--require-auth");
        foreach (var arg in settings.ExtraArgs) info.ArgumentList.Add(arg);
        info.Environment.Remove("FPGASCORE_PRIMARY_KEY");
        info.Environment.Remove("FPGASCORE_SECONDARY_KEY");

        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start the emulator");
        var stderr = new ConcurrentQueue<string>();
        var emulatorRef = new Emulator[1];
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (emulatorRef[0] is { } emu) emu.Add(e.Data);
            else stderr.Enqueue(e.Data);
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        var until = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"the emulator exited ({process.ExitCode}): {string.Join("\n", stderr)}");
            if (File.Exists(portFile) && int.TryParse((await File.ReadAllTextAsync(portFile)).Trim(), out var port) && port > 0)
            {
                var emulator = new Emulator(process, dir, port, settings.Tls is not null);
                emulatorRef[0] = emulator;
                while (stderr.TryDequeue(out var line)) emulator.Add(line);
                return emulator;
            }
            await Task.Delay(50);
        }
        process.StandardInput.Close();
        throw new TimeoutException($"the emulator did not write its port file in 60 s: {string.Join("\n", stderr)}");
    }

    /// <summary>The log lines of the calls with conformance case <paramref name="caseId"/>.</summary>
    public IReadOnlyList<JsonElement> Calls(string caseId) =>
        _log.Where(e => e.TryGetProperty("case", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() == caseId).ToList();

    /// <summary>All JSON log lines so far.</summary>
    public IReadOnlyList<JsonElement> Log => _log.ToList();

    /// <summary>The raw stderr text so far.</summary>
    public string RawLog => string.Join("\n", _rawLog);

    /// <summary>Waits briefly for log lines to arrive (the server logs after answering).</summary>
    public async Task<IReadOnlyList<JsonElement>> CallsAsync(string caseId, int expected, int timeoutMs = 3000)
    {
        var until = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            var calls = Calls(caseId);
            if (calls.Count >= expected || DateTime.UtcNow > until) return calls;
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000)) _process.Kill(true);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException) { }
        _process.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private void Add(string line)
    {
        _rawLog.Enqueue(line);
        try
        {
            using var doc = JsonDocument.Parse(line);
            _log.Enqueue(doc.RootElement.Clone());
        }
        catch (JsonException) { }
    }

    private static void AddKeyFile(ProcessStartInfo info, string dir, string flag, string name, string key)
    {
        var path = Path.Combine(dir, name + ".key");
        File.WriteAllText(path, key + "\n");
        info.ArgumentList.Add(flag);
        info.ArgumentList.Add(path);
    }
}
