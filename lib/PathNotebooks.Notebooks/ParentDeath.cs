using System.Globalization;
using System.Runtime.InteropServices;

namespace PathNotebooks.Processes;

/// <summary>
/// Makes a child process die with its parent even when the parent is killed with SIGKILL and had no chance to
/// clean up: Linux delivers SIGTERM to the child when the parent goes (prctl PR_SET_PDEATHSIG).
/// </summary>
static class ParentDeath
{
    /// <summary>Environment variable in which a parent names its PID to the child it starts.</summary>
    public const string ParentPidVariable = "PATHNB_PARENT_PID";

    const int PR_SET_PDEATHSIG = 1;
    const int SIGTERM = 15;

    /// <summary>
    /// Asks for SIGTERM when the parent dies; returns false when the parent that started us (named by
    /// <see cref="ParentPidVariable"/>) is already gone, i.e. it died before the request was in place.
    /// </summary>
    /// <remarks>Shared as source by pathnb and the notebook runner. Does nothing in a process no parent of ours started.</remarks>
    public static bool TerminateWithParent()
    {
        var expected = Environment.GetEnvironmentVariable(ParentPidVariable);
        if (!OperatingSystem.IsLinux() || !int.TryParse(expected, NumberStyles.None, CultureInfo.InvariantCulture, out var parent)) return true;
        if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) return true;   // best effort: a run without it still works
        return getppid() == parent;
    }

    [DllImport("libc", SetLastError = true)]
    static extern int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [DllImport("libc")]
    static extern int getppid();
}
