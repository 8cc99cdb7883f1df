using System.Collections.Concurrent;
using System.Diagnostics;
using PathNotebooks.Processes;

namespace PathNotebooks.Cli;

/// <summary>What to start: an executable (or this program) with its arguments and extra environment.</summary>
/// <param name="FileName">The executable; null starts this same program (through `dotnet` when it runs as a dll).</param>
sealed record ChildStart(string? FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string>? Environment = null)
{
    /// <summary>This program again, e.g. one `notebook run` per notebook (script assemblies and libtorch cannot be unloaded).</summary>
    public static ChildStart Self(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null) =>
        new(null, arguments.ToList(), environment);
}

/// <summary>
/// A child process whose output lines go to a callback and which dies with its whole process tree when the
/// caller gives up on it (cancellation), so no interrupted run leaves orphans behind.
/// </summary>
static class ChildProcess
{
    /// <summary>
    /// Runs the child to its end and returns its exit code. When <paramref name="cancel"/> fires, the child's whole
    /// process tree is killed, awaited, and <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    public static async Task<int> RunAsync(ChildStart start, Action<string> onLine, CancellationToken cancel = default)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (start.FileName != null) psi.FileName = start.FileName;
        else
        {
            var host = System.Environment.ProcessPath!;
            psi.FileName = host;
            if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }
        foreach (var a in start.Arguments) psi.ArgumentList.Add(a);
        psi.Environment[ParentDeath.ParentPidVariable] = System.Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (start.Environment != null) foreach (var (k, v) in start.Environment) psi.Environment[k] = v;

        cancel.ThrowIfCancellationRequested();
        using var p = await Spawner.StartAsync(psi);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            await p.WaitForExitAsync(cancel);
        }
        catch (OperationCanceledException)
        {
            KillTree(p);
            await p.WaitForExitAsync(CancellationToken.None);
            throw;
        }
        return p.ExitCode;
    }

    static void KillTree(Process p)
    {
        try { p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }   // it exited on its own meanwhile
    }

    /// <summary>
    /// Starts processes from one long-lived thread. PR_SET_PDEATHSIG in a child fires when the *thread* that forked it
    /// exits, not the process, and thread-pool threads retire when idle: a child forked from one would be killed early.
    /// </summary>
    static class Spawner
    {
        static readonly BlockingCollection<(ProcessStartInfo Psi, TaskCompletionSource<Process> Done)> Queue = new();

        static Spawner()
        {
            var thread = new Thread(() =>
            {
                foreach (var (psi, done) in Queue.GetConsumingEnumerable())
                {
                    try { done.SetResult(Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}")); }
                    catch (Exception e) { done.SetException(e); }
                }
            }) { IsBackground = true, Name = "pathnb child spawner" };
            thread.Start();
        }

        public static Task<Process> StartAsync(ProcessStartInfo psi)
        {
            var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
            Queue.Add((psi, done));
            return done.Task;
        }
    }
}
