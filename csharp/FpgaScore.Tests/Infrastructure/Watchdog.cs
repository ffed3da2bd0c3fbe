namespace FpgaScore.Tests.Infrastructure;

/// <summary>The shell watchdog the test servers run under (<c>/bin/sh -c Script NAME PROGRAM ARGS...</c>).</summary>
public static class Watchdog
{
    /// <summary>The environment variable naming a file the watchdog writes its program's pid to (when set).</summary>
    public const string PidFileVariable = "FPGASCORE_WATCHDOG_PID_FILE";

    /// <summary>Runs the program; stops it (SIGTERM) when our stdin pipe closes; exits when the program exits. The
    /// program's pid goes to <see cref="PidFileVariable"/>'s file, so a test can signal the program itself.</summary>
    public const string Script =
        "exec 3<&0; \"$@\" </dev/null 3<&- & pid=$!; if [ -n \"$" + PidFileVariable + "\" ]; then echo $pid > \"$" + PidFileVariable + "\"; fi; " +
        "(cat <&3 >/dev/null; kill -TERM $pid 2>/dev/null) & exec 3<&-; wait $pid";
}
