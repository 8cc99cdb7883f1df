using System.Diagnostics;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PathNotebooks.Notebooks;

/// <summary>What run.json records about one notebook run: outcome, size, device, runtime, versions, per-cell times.</summary>
sealed record RunRecord(
    string Notebook, int? FailedCell, string? Error, string Size, string Device, string? RuntimeLine, string Packages,
    IReadOnlyList<CellTiming> Cells, double Seconds, JsonObject? KitFacts)
{
    /// <summary>The line under the page title: outcome, size, device and time, said once per page.</summary>
    public string Subtitle() =>
        $"{(FailedCell == null ? "executed" : $"FAILED at cell {FailedCell}")} {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · size {Size} · " +
        $"{RuntimeLine ?? "torch runtime not started"} · {Seconds:F1} s";

    /// <summary>run.json, with what only the kit knows (device, GPU, libtorch, seeds) merged in from <see cref="KitFacts"/>.</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["notebook"] = Notebook,
            ["succeeded"] = FailedCell == null,
            ["failed_cell"] = FailedCell,
            ["error"] = Error,
            ["size"] = Size,
            ["device_requested"] = Device,
            ["runtime"] = RuntimeLine,
            ["packages"] = Packages,
            ["kernel"] = $"Microsoft.DotNet.Interactive {KernelVersion()} (in process)",
            ["git_commit"] = GitCommit(),
            ["dotnet"] = Environment.Version.ToString(),
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["started_utc"] = DateTime.UtcNow.AddSeconds(-Seconds).ToString("O"),
            ["wall_seconds"] = Math.Round(Seconds, 2),
            ["cells"] = new JsonArray(Cells.Select(t => (JsonNode)new JsonObject
            {
                ["cell"] = t.Cell, ["seconds"] = Math.Round(t.Seconds, 3), ["succeeded"] = t.Succeeded,
            }).ToArray()),
        };
        if (KitFacts != null)
            foreach (var (key, value) in KitFacts) o[key] = value?.DeepClone();
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    /// <summary>The kernel package's version (e.g. 1.0.0-beta.26120.1), without the source-commit suffix.</summary>
    static string KernelVersion()
    {
        var assembly = typeof(Microsoft.DotNet.Interactive.Kernel).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return informational?.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "?";
    }

    /// <summary>The commit of the working tree the notebook came from, with "+dirty" when it has changes; null outside git.</summary>
    static string? GitCommit()
    {
        string? Git(params string[] args)
        {
            try
            {
                var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in args) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi);
                if (p == null) return null;
                var output = p.StandardOutput.ReadToEnd().Trim();
                return p.WaitForExit(10_000) && p.ExitCode == 0 ? output : null;
            }
            catch (System.ComponentModel.Win32Exception) { return null; }                 // no git installed
        }
        var commit = Git("rev-parse", "HEAD");
        if (commit == null) return null;
        return Git("status", "--porcelain", "--untracked-files=no") is { Length: > 0 } ? commit + "+dirty" : commit;
    }
}
