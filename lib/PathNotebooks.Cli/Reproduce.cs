using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>
/// The main job: run every notebook through the runner at the size the device allows and collect results/.
/// Each notebook runs in its own process into a fresh folder that replaces results/&lt;notebook&gt;/ only when the
/// run has finished, so an interrupted run never leaves a half-written result folder.
/// </summary>
static class Reproduce
{
    public static async Task<int> RunAsync(Args args)
    {
        args.AllowOnly("only", "size", "device", "out", "cell-timeout", "notebooks");
        var size = args.Choice("size", "tiny", "full");
        var device = args.Choice("device", "auto", "cpu", "cuda");
        var notebooksDir = args.Get("notebooks") ?? FindNotebooksFolder()
            ?? throw new UsageException("no notebooks/ folder found above the current folder; run from the repository or pass --notebooks DIR.");
        var outRoot = Path.GetFullPath(args.Get("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(notebooksDir))!, "results"));
        var all = Directory.GetFiles(notebooksDir, "*.ipynb").OrderBy(p => p, StringComparer.Ordinal).ToList();
        var only = args.Get("only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var selected = only == null ? all : all.Where(p => only.Any(o => Path.GetFileName(p).StartsWith(o, StringComparison.Ordinal))).ToList();
        if (selected.Count == 0) throw new UsageException($"no notebooks match --only {args.Get("only")} in {notebooksDir}.");

        // Start the runtime here too: it prints what this machine will use and settles the default size.
        var info = TorchRuntime.Initialize(device);
        var effectiveSize = size ?? (info.IsCuda ? "full" : "tiny");
        Console.WriteLine($"reproduce: {selected.Count} notebook(s), size {effectiveSize}, results in {outRoot}");
        Directory.CreateDirectory(outRoot);

        var rows = new List<(string Name, bool Ok, double Seconds, string Detail)>();
        var progress = new ProgressLine(Console.IsOutputRedirected);
        var total = Stopwatch.StartNew();
        for (int n = 0; n < selected.Count; n++)
        {
            var nb = selected[n];
            var name = Path.GetFileNameWithoutExtension(nb);
            var final = Path.Combine(outRoot, name);
            var partial = Path.Combine(outRoot, $".{name}.partial-{Environment.ProcessId}");
            if (Directory.Exists(partial)) Directory.Delete(partial, true);
            var child = new List<string> { "notebook", "run", nb, "--out", partial, "--size", effectiveSize };
            if (device != null) child.AddRange(new[] { "--device", device });
            if (args.Get("cell-timeout") is { } t) child.AddRange(new[] { "--cell-timeout", t });
            var log = new List<string>();
            var clock = Stopwatch.StartNew();
            int code = await SelfProcess.RunAsync(child, line =>
            {
                if (line.StartsWith("@progress ", StringComparison.Ordinal))
                {
                    var p = line.Split(' ');
                    progress.Show(n, selected.Count, name, int.Parse(p[1]), int.Parse(p[2]), clock.Elapsed, total.Elapsed);
                }
                else log.Add(line);
            }, new Dictionary<string, string> { ["PATHNB_PROGRESS"] = "1" });
            progress.Clear();
            bool ok = code == 0;
            string detail = log.LastOrDefault(l => l.Contains(name)) ?? log.LastOrDefault() ?? "";
            if (Directory.Exists(partial))
            {
                // Swap the finished folder in; keep the failed run's files too, so the error cell can be read.
                var old = final + $".old-{Environment.ProcessId}";
                if (Directory.Exists(final)) Directory.Move(final, old);
                Directory.Move(partial, final);
                if (Directory.Exists(old)) Directory.Delete(old, true);
            }
            if (!ok) foreach (var l in log.TakeLast(15)) Console.WriteLine("    " + l);
            Console.WriteLine($"[{n + 1}/{selected.Count}] {name}: {(ok ? "ok" : "FAILED")} in {clock.Elapsed.TotalSeconds:F1} s");
            rows.Add((name, ok, clock.Elapsed.TotalSeconds, ok ? Path.Combine(final, name + ".html") : detail));
        }

        Console.WriteLine();
        Console.WriteLine($"{"notebook",-28} {"status",-7} {"size",-5} {"device",-18} {"seconds",8}  output");
        foreach (var r in rows)
        {
            var runJson = Path.Combine(outRoot, r.Name, "run.json");
            string dev = info.Device;
            if (File.Exists(runJson) && JsonNode.Parse(File.ReadAllText(runJson)) is JsonObject o)
                dev = $"{o["device"]}{(o["gpu"] is JsonNode g ? $" {g}" : "")}";
            Console.WriteLine($"{r.Name,-28} {(r.Ok ? "ok" : "FAILED"),-7} {effectiveSize,-5} {Truncate(dev, 18),-18} {r.Seconds.ToString("F1", CultureInfo.InvariantCulture),8}  {r.Detail}");
        }
        Console.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s; {rows.Count(r => r.Ok)} passed, {rows.Count(r => !r.Ok)} failed");
        return rows.All(r => r.Ok) ? 0 : 1;
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

    /// <summary>One self-rewriting progress line on a terminal; nothing when output is redirected (CI logs).</summary>
    sealed class ProgressLine(bool redirected)
    {
        public void Show(int index, int count, string name, int cell, int cells, TimeSpan notebookElapsed, TimeSpan totalElapsed)
        {
            if (redirected) return;
            double fraction = (index + (double)cell / Math.Max(1, cells)) / count;
            int filled = (int)Math.Round(fraction * 24);
            var eta = fraction > 0.02 ? TimeSpan.FromSeconds(totalElapsed.TotalSeconds * (1 - fraction) / fraction) : (TimeSpan?)null;
            var line = $"[{index + 1}/{count}] {name} cell {cell}/{cells} [{new string('#', filled)}{new string('.', 24 - filled)}] " +
                       $"{notebookElapsed.TotalSeconds:F0}s{(eta is { } e ? $", ETA ~{e.TotalSeconds:F0}s" : "")}";
            int width = Width();
            Console.Write("\r" + (line.Length >= width ? line[..(width - 1)] : line.PadRight(width - 1)));
        }

        public void Clear()
        {
            if (!redirected) Console.Write("\r" + new string(' ', Width() - 1) + "\r");
        }

        // Some pseudo-terminals report no usable width; fall back to a common one.
        static int Width()
        {
            try { return Console.WindowWidth >= 40 ? Console.WindowWidth : 100; }
            catch (IOException) { return 100; }
        }
    }
}
