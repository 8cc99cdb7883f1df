using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb reproduce`, as parsed.</summary>
/// <param name="Only">Comma-separated file-name prefixes of the notebooks to run (null: all).</param>
/// <param name="Notebooks">Folder of .ipynb files (null: the repository's notebooks/).</param>
/// <param name="PackagesFrom">Folder that serves the notebooks' package lines instead of NuGet (null: NuGet).</param>
sealed record ReproduceOptions(string? Only, string? Size, string? Device, string? Out, double? CellTimeoutSeconds, string? Notebooks, string? PackagesFrom);

/// <summary>
/// The main job: run every notebook through the runner at the size the device allows and collect results/.
/// Each notebook runs in its own process into a fresh folder that replaces results/&lt;notebook&gt;/ only when the
/// run has finished, so an interrupted run never leaves a half-written result folder.
/// </summary>
static class Reproduce
{
    public static async Task<int> RunAsync(ReproduceOptions options)
    {
        using var interruption = Interruption.Watch();
        var notebooksDir = options.Notebooks ?? FindNotebooksFolder()
            ?? throw new UsageException("no notebooks/ folder found above the current folder; run from the repository or pass --notebooks DIR.");
        var outRoot = Path.GetFullPath(options.Out ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(notebooksDir))!, "results"));
        var all = Directory.GetFiles(notebooksDir, "*.ipynb").OrderBy(p => p, StringComparer.Ordinal).ToList();
        var only = options.Only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var selected = only == null ? all : all.Where(p => only.Any(o => Path.GetFileName(p).StartsWith(o, StringComparison.Ordinal))).ToList();
        if (selected.Count == 0) throw new UsageException($"no notebooks match --only {options.Only} in {notebooksDir}.");

        // Start the runtime here too: it prints what this machine will use and settles the default size.
        var info = TorchRuntime.Initialize(options.Device);
        var size = options.Size ?? (info.IsCuda ? "full" : "tiny");
        Console.WriteLine($"reproduce: {selected.Count} notebook(s), size {size}, results in {outRoot}");
        Directory.CreateDirectory(outRoot);
        foreach (var removed in ResultFolders.RemoveStale(outRoot)) Console.WriteLine($"reproduce: removed {removed} left by an interrupted run");

        var names = selected.Select(p => Path.GetFileNameWithoutExtension(p)).ToList();
        var progress = ReproduceProgress.Create(names, names.Select(n => RunHistory.Load(Path.Combine(outRoot, n, "run.json"))).ToList());
        var rows = new List<(string Name, bool Ok, double Seconds, string Detail)>();
        var total = Stopwatch.StartNew();
        for (int n = 0; n < selected.Count; n++)
        {
            var name = names[n];
            var folders = new ResultFolders(outRoot, name);
            var child = NotebookRunner.Run(selected[n], folders.Partial, size, options.Device, options.CellTimeoutSeconds, options.PackagesFrom, progress: true);
            var log = new List<string>();
            var clock = Stopwatch.StartNew();
            int code;
            try
            {
                folders.PreparePartial();
                code = await progress.RunNotebookAsync(n, () => ChildProcess.RunAsync(child, line =>
                {
                    if (ProgressLine.TryParse(line) is { } p) progress.Report(p.Cell, p.Cells, p.Finished, p.Seconds);
                    else lock (log) log.Add(line);
                }, interruption.Token));
            }
            catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested)
            {
                folders.DeletePartial();
                Console.Error.WriteLine($"reproduce: stopped by {interruption.SignalName} during {name}; its previous results, if any, are kept.");
                return interruption.ExitCode;
            }
            bool ok = code == 0;
            string detail = log.LastOrDefault(l => l.Contains(name)) ?? log.LastOrDefault() ?? "";
            folders.SwapInPartial();   // a failed run's files too, so the error cell can be read
            if (!ok) foreach (var l in log.TakeLast(15)) Console.WriteLine("    " + l);
            Console.WriteLine($"[{n + 1}/{selected.Count}] {name}: {(ok ? "ok" : "FAILED")} in {clock.Elapsed.TotalSeconds:F1} s");
            rows.Add((name, ok, clock.Elapsed.TotalSeconds, ok ? Path.Combine(folders.Final, name + ".html") : detail));
            if (interruption.Token.IsCancellationRequested) return interruption.ExitCode;
        }

        PrintSummary(rows, outRoot, size, info.Device, total.Elapsed);
        return rows.All(r => r.Ok) ? 0 : 1;
    }

    static void PrintSummary(List<(string Name, bool Ok, double Seconds, string Detail)> rows, string outRoot, string size, string device, TimeSpan total)
    {
        Console.WriteLine();
        Console.WriteLine($"{"notebook",-28} {"status",-7} {"size",-5} {"device",-18} {"seconds",8}  output");
        foreach (var r in rows)
        {
            var runJson = Path.Combine(outRoot, r.Name, "run.json");
            string dev = device;
            if (File.Exists(runJson) && JsonNode.Parse(File.ReadAllText(runJson)) is JsonObject o)
                dev = $"{o["device"]}{(o["gpu"] is JsonNode g ? $" {g}" : "")}";
            Console.WriteLine($"{r.Name,-28} {(r.Ok ? "ok" : "FAILED"),-7} {size,-5} {Truncate(dev, 18),-18} {r.Seconds.ToString("F1", CultureInfo.InvariantCulture),8}  {r.Detail}");
        }
        Console.WriteLine($"total {total.TotalSeconds:F1} s; {rows.Count(r => r.Ok)} passed, {rows.Count(r => !r.Ok)} failed");
    }

    static string Truncate(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    /// <summary>The notebooks/ folder of the repository: walk up from the current folder, then from the program's folder.</summary>
    internal static string? FindNotebooksFolder()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (Directory.Exists(Path.Combine(dir.FullName, "notebooks")) && File.Exists(Path.Combine(dir.FullName, "PathNotebooks.sln")))
                    return Path.Combine(dir.FullName, "notebooks");
        }
        return null;
    }
}

/// <summary>One `@progress CELL CELLS FINISHED(0|1) SECONDS` line of a `notebook run` child.</summary>
sealed record ProgressLine(int Cell, int Cells, bool Finished, double Seconds)
{
    public static ProgressLine? TryParse(string line)
    {
        var p = line.Split(' ');
        return p.Length == 5 && p[0] == "@progress"
               && int.TryParse(p[1], CultureInfo.InvariantCulture, out var cell) && int.TryParse(p[2], CultureInfo.InvariantCulture, out var cells)
               && double.TryParse(p[4], CultureInfo.InvariantCulture, out var seconds)
            ? new ProgressLine(cell, cells, p[3] == "1", seconds)
            : null;
    }
}
