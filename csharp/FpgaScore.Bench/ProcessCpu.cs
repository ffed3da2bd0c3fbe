using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FpgaScore.Bench;

/// <summary>
/// The process's CPU time (user + system), to the microsecond. <see cref="Process.TotalProcessorTime"/> reads
/// /proc/self/stat on Linux, in clock ticks of 10 ms: a phase of twenty 1 ms calls would be measured to within half
/// its length. getrusage(RUSAGE_SELF), which the Go and Python workers read too, is exact to the microsecond; where
/// it is not available (not Linux), the Process value is used.
/// </summary>
internal static partial class ProcessCpu
{
    private const int RusageSelf = 0;

    public static TimeSpan Read(Process process)
    {
        if (OperatingSystem.IsLinux() && GetRUsage(RusageSelf, out var usage) == 0)
            return TimeSpan.FromMicroseconds(usage.UserSeconds * 1e6 + usage.UserMicroseconds + usage.SystemSeconds * 1e6 + usage.SystemMicroseconds);
        process.Refresh();
        return process.TotalProcessorTime;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRUsage(int who, out RUsage usage);

    /// <summary>struct rusage of 64-bit Linux: two struct timeval (user, system), then 14 longs this reader ignores.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }
}
