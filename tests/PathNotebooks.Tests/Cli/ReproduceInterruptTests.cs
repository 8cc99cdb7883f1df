using System.Diagnostics;
using System.Runtime.InteropServices;
using PathNotebooks.Tests.Notebooks;

namespace PathNotebooks.Tests.Cli;

/// <summary>
/// `pathnb reproduce` stopped by a signal cleans up after itself: no orphaned `notebook run` child, no partial
/// folder; and a later run removes the folders that a run killed outright (SIGKILL) left behind.
/// </summary>
[Collection("notebook runs")]
public class ReproduceInterruptTests
{
    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    const int SIGTERM = 15;

    [Fact]
    public async Task SigtermKillsTheNotebookChildAndRemovesThePartialFolder()
    {
        if (!OperatingSystem.IsLinux()) return;   // signals and /proc
        var (root, notebooks, results) = FixtureWithASleepingNotebook("sigterm");
        using var parent = StartReproduce(root, notebooks, results, out var output);

        // The child is running its long cell once it exists and its partial folder is there.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!(ChildrenOf(root).Any() && PartialFolders(results).Any()))
        {
            Assert.False(parent.HasExited, $"reproduce ended early:\n{output}");
            Assert.True(DateTime.UtcNow < deadline, $"no notebook child appeared:\n{output}");
            await Task.Delay(200);
        }

        Assert.Equal(0, kill(parent.Id, SIGTERM));
        // Generous limits: on a loaded 2-core CI machine the parent's shutdown can take seconds; a pass costs no wait.
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await parent.WaitForExitAsync(wait.Token);

        Assert.Equal(143, parent.ExitCode);
        await Eventually(() => !ChildrenOf(root).Any(), "the notebook child outlived its parent");
        Assert.Empty(PartialFolders(results));
        Assert.Contains("stopped by SIGTERM", output.ToString());
    }

    [Fact]
    public async Task ANewRunRemovesFoldersLeftByADeadRun()
    {
        var root = RepoPaths.TempDir("stale");
        var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
        FixtureNotebook.WriteCode(Path.Combine(notebooks, "01-quick.ipynb"), "1 + 1");
        var results = Directory.CreateDirectory(Path.Combine(root, "results")).FullName;
        int deadPid = DeadPid();
        var stalePartial = Directory.CreateDirectory(Path.Combine(results, $".01-quick.partial-{deadPid}")).FullName;
        var staleOld = Directory.CreateDirectory(Path.Combine(results, $".02-other.old-{deadPid}")).FullName;
        Directory.CreateDirectory(Path.Combine(results, "02-other"));                // the swap had finished: old is garbage
        var live = Directory.CreateDirectory(Path.Combine(results, $".03-busy.partial-{Environment.ProcessId}")).FullName;   // a live run's

        using var run = StartReproduce(root, notebooks, results, out var output);
        await run.WaitForExitAsync();

        Assert.True(run.ExitCode == 0, output.ToString());
        Assert.False(Directory.Exists(stalePartial));
        Assert.False(Directory.Exists(staleOld));
        Assert.True(Directory.Exists(live));
        Assert.True(File.Exists(Path.Combine(results, "01-quick", "run.json")));
    }

    static (string Root, string Notebooks, string Results) FixtureWithASleepingNotebook(string name)
    {
        var root = RepoPaths.TempDir(name);   // unique: its path identifies this test's processes in /proc
        var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
        FixtureNotebook.WriteCode(Path.Combine(notebooks, "01-sleeps.ipynb"), "System.Threading.Thread.Sleep(60000);");
        return (root, notebooks, Path.Combine(root, "results"));
    }

    static Process StartReproduce(string root, string notebooks, string results, out System.Text.StringBuilder output)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (var a in new[] { RepoPaths.CliDll, "reproduce", "--notebooks", notebooks, "--out", results, "--device", "cpu" }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var text = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (text) text.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (text) text.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        output = text;
        return p;
    }

    /// <summary>`notebook run` processes whose command line mentions the fixture folder.</summary>
    static IEnumerable<int> ChildrenOf(string root)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (cmdline.Contains(root, StringComparison.Ordinal) && cmdline.Contains("notebook run", StringComparison.Ordinal)) yield return pid;
        }
    }

    static string[] PartialFolders(string results) =>
        Directory.Exists(results) ? Directory.GetDirectories(results, ".*.partial-*") : [];

    static async Task Eventually(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
    }

    /// <summary>The PID of a process that has exited.</summary>
    static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true"))!;
        p.WaitForExit();
        return p.Id;
    }
}
