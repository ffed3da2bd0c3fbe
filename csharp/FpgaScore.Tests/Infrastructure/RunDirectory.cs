using System.Diagnostics;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>
/// The test run's scratch folder, <c>$TMP/fpgascore-cs-run-PID</c>. Folders of runs whose process is gone are
/// removed when a new run starts (a test process may end without running its exit handlers).
/// </summary>
public static class RunDirectory
{
    private const string Prefix = "fpgascore-cs-run-";
    private static readonly Lazy<string> s_path = new(Create);

    public static string Path => s_path.Value;

    private static string Create()
    {
        foreach (var stale in Directory.GetDirectories(System.IO.Path.GetTempPath(), Prefix + "*"))
        {
            if (int.TryParse(System.IO.Path.GetFileName(stale)[Prefix.Length..], out var pid) && !IsAlive(pid))
                try { Directory.Delete(stale, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), Prefix + Environment.ProcessId);
        Directory.CreateDirectory(path);
        return path;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
