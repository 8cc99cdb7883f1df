using System.Text.Json.Nodes;

namespace PathNotebooks.Cli;

/// <summary>How long a notebook took last time: its run.json's per-cell seconds and wall time.</summary>
sealed record RunHistory(IReadOnlyDictionary<int, double> CellSeconds, double WallSeconds)
{
    /// <summary>Reads results/&lt;notebook&gt;/run.json; null when there is none or it cannot be read.</summary>
    public static RunHistory? Load(string runJsonPath)
    {
        try
        {
            if (!File.Exists(runJsonPath) || JsonNode.Parse(File.ReadAllText(runJsonPath)) is not JsonObject run) return null;
            var cells = new Dictionary<int, double>();
            foreach (var c in run["cells"]?.AsArray() ?? [])
                if (c?["cell"]?.GetValue<int>() is { } n && c["seconds"]?.GetValue<double>() is { } s) cells[n] = s;
            var wall = run["wall_seconds"]?.GetValue<double>() ?? cells.Values.Sum();
            return cells.Count == 0 ? null : new RunHistory(cells, wall);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException or IOException)
        {
            return null;   // an unreadable old file only costs the estimate
        }
    }
}
