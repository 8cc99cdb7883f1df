using System.Globalization;

namespace PathNotebooks.Cli;

/// <summary>
/// results/&lt;notebook&gt;/ and the hidden folders that replace it atomically: a run writes
/// `.NAME.partial-PID`, which is swapped in through `.NAME.old-PID` when the run ends.
/// </summary>
sealed class ResultFolders(string outRoot, string name)
{
    public string Final { get; } = Path.Combine(outRoot, name);
    public string Partial { get; } = Path.Combine(outRoot, $".{name}.partial-{Environment.ProcessId}");
    string Old => Path.Combine(outRoot, $".{name}.old-{Environment.ProcessId}");

    public void PreparePartial() => DeletePartial();

    public void DeletePartial()
    {
        if (Directory.Exists(Partial)) Directory.Delete(Partial, true);
    }

    /// <summary>Replaces the final folder with the partial one, if the run wrote one.</summary>
    public void SwapInPartial()
    {
        if (!Directory.Exists(Partial)) return;
        if (Directory.Exists(Final)) Directory.Move(Final, Old);
        Directory.Move(Partial, Final);
        if (Directory.Exists(Old)) Directory.Delete(Old, true);
    }

    /// <summary>
    /// Deletes `.NAME.partial-PID` and `.NAME.old-PID` folders of runs whose process is gone (killed before it could
    /// clean up), and returns their names. An old folder whose final one is missing was caught mid-swap: it is
    /// the last good result, so it is moved back instead.
    /// </summary>
    public static List<string> RemoveStale(string outRoot)
    {
        var removed = new List<string>();
        foreach (var dir in Directory.GetDirectories(outRoot, ".*"))
        {
            var folder = Path.GetFileName(dir);
            if (Parse(folder) is not ({ } nb, { } kind, { } pid) || IsAlive(pid)) continue;
            var final = Path.Combine(outRoot, nb);
            if (kind == "old" && !Directory.Exists(final)) { Directory.Move(dir, final); continue; }
            Directory.Delete(dir, true);
            removed.Add(folder);
        }
        return removed;
    }

    /// <summary>".01-intro.partial-4242" → ("01-intro", "partial", 4242).</summary>
    static (string? Name, string? Kind, int? Pid) Parse(string folder)
    {
        foreach (var kind in new[] { "partial", "old" })
        {
            var marker = $".{kind}-";
            int at = folder.LastIndexOf(marker, StringComparison.Ordinal);
            if (folder.StartsWith('.') && at > 1 && int.TryParse(folder[(at + marker.Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                return (folder[1..at], kind, pid);
        }
        return (null, null, null);
    }

    // A live PID may belong to another run going on in the same folder: leave its folders alone.
    static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return false;   // ours from before a PID reuse; this run recreates them
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
