using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 06 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook06Tests
{
    const string Name = "06-lte-eviction";

    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTables()
    {
        var notebookRun = await RepoPaths.RunNotebookAsync(Name + ".ipynb");      // no error outputs, HTML page written
        var outDir = notebookRun.OutputDirectory;
        var text = string.Join("\n", notebookRun.Outputs.SelectMany(OutputText.Strings));
        // masks (2), toy controller (2), cache occupancy, training (2), λ and kept (2), recall sweeps (3), cache bytes,
        // kept fraction, kept-token map, answers by pair, attention pattern
        Assert.True(notebookRun.Charts >= 17, $"expected the notebook's charts, got {notebookRun.Charts}");

        // the checks the prose relies on
        Assert.Contains("mask = definition: training True, capped True", text);
        var ste = Regex.Match(text, @"max \|autograd dr − formula\| = ([0-9.]+E[-+][0-9]+).*max \|masked SDPA − reference\| = ([0-9.]+E[-+][0-9]+)");
        Assert.True(ste.Success, "the straight-through cell prints both gaps");
        Assert.True(double.Parse(ste.Groups[1].Value, CultureInfo.InvariantCulture) < 1e-12, ste.Value);
        Assert.True(double.Parse(ste.Groups[2].Value, CultureInfo.InvariantCulture) < 1e-12, ste.Value);
        Assert.Matches(@"moves the scores of tokens 14, 16, 18, 20, 22, 24, 26 \(7 tokens, spanning 13", text);
        var cache = Regex.Match(text, @"max \|decode − capped forward\| = ([0-9.]+E[-+][0-9]+).*most tokens held (\d+) of capacity (\d+); LTE layer state ([\d,]+) bytes measured, ([\d,]+) predicted");
        Assert.True(cache.Success, "the cache cell reports decode vs capped forward, occupancy and bytes");
        Assert.True(double.Parse(cache.Groups[1].Value, CultureInfo.InvariantCulture) < 1e-10, cache.Value);
        Assert.True(int.Parse(cache.Groups[2].Value) <= int.Parse(cache.Groups[3].Value), cache.Value);
        Assert.Equal(cache.Groups[4].Value, cache.Groups[5].Value);
        var decode = Regex.Match(text, @"cached decode tokens ([\d ]+?)\s+masked forward tokens ([\d ]+?)\s+equal: True; decoding state after \d+ tokens: ([\d,]+) bytes measured, ([\d,]+) predicted");
        Assert.True(decode.Success, "the trained model's cached decode equals its masked forward");
        Assert.Equal(decode.Groups[1].Value, decode.Groups[2].Value);
        Assert.Equal(decode.Groups[3].Value, decode.Groups[4].Value);
        // The exercises ship unanswered (they report, never fail); every worked solution passes the same check.
        Assert.Equal(3, Regex.Matches(text, @"… Exercise \d: not answered yet").Count);
        Assert.Equal(3, Regex.Matches(text, @"✓ Exercise \d \(solution\)").Count);
        Assert.DoesNotContain("✗", text);

        var summary = File.ReadAllLines(Path.Combine(outDir, "lte-recall-summary.csv"));
        Assert.StartsWith("model,layers,cache @L KiB", summary[0]);
        static string FirstField(string line) => line.StartsWith('"') ? line[1..line.IndexOf('"', 1)] : line.Split(',')[0];   // CSV quotes a name with a comma
        Assert.Equal(new[] { "laLTE", "laLTE, recency", "laNSA", "GDN+SWA", "GDN", "Attention", "laLTE b=16" }, summary.Skip(1).Select(FirstField));
        // the laLTE cache is constant in the context; attention's grows
        var lte = summary[1].Split(',');
        Assert.Equal(lte[2], lte[3]);
        var attention = summary.Single(l => l.StartsWith("Attention,")).Split(',');
        Assert.True(double.Parse(attention[3], CultureInfo.InvariantCulture) > double.Parse(attention[2], CultureInfo.InvariantCulture));
        var sweep = File.ReadAllLines(Path.Combine(outDir, "lte-buffer-sweep.csv"));
        Assert.StartsWith("buffer b,kept % (r > 0),MQAR @L %", sweep[0]);
        Assert.Equal(new[] { "8", "16" }, sweep.Skip(1).Select(l => l.Split(',')[0]));
        var cells = File.ReadAllLines(Path.Combine(outDir, "lte-recall-cells.csv"));
        foreach (var task in new[] { "MQAR length", "MQAR pairs", "S1", "S2", "S3" })
            Assert.Contains(cells, l => l.StartsWith(task + ","));
        var controller = File.ReadAllLines(Path.Combine(outDir, "lte-controller.csv"));
        Assert.StartsWith("task,model,layer,head,step,lambda,kept per sequence", controller[0]);
        Assert.True(controller.Length > 10);
        Assert.True(File.Exists(Path.Combine(outDir, "lte-recall-training.csv")));
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
    }
}
