using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 05 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook05Tests
{
    const string Name = "05-hybrid-linear-sparse";

    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTables()
    {
        var notebookRun = await RepoPaths.RunNotebookAsync(Name + ".ipynb");      // no error outputs, HTML page written
        var outDir = notebookRun.OutputDirectory;
        var text = string.Join("\n", notebookRun.Outputs.SelectMany(OutputText.Strings));
        int charts = notebookRun.Charts;
        // memory (3), band and selection (2), state bytes (1), training (2), recall sweeps (3), needle kinds, memory scatter, trained selection
        Assert.True(charts >= 14, $"expected the notebook's charts, got {charts}");

        // the checks the prose relies on: exact agreement of the fast forms, and of decoding with the spec's bytes
        foreach (Match m in Regex.Matches(text, @"max \|[^=]+= ([0-9.]+E[-+][0-9]+)"))
            Assert.True(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) < 1e-12, m.Value);
        Assert.Matches(@"C = 64: max \|chunked − recurrent\| output [0-9.]+E-01[0-9]", text);
        var decode = Regex.Match(text, @"greedy decode (\d+) = teacher-forced argmax (\d+).*?: ([\d,]+) bytes measured, ([\d,]+) predicted");
        Assert.True(decode.Success, "the decoding cell reports greedy vs teacher-forced and the state bytes");
        Assert.Equal(decode.Groups[1].Value, decode.Groups[2].Value);
        Assert.Equal(decode.Groups[3].Value, decode.Groups[4].Value);
        // The exercises ship unanswered (they report, never fail); every worked solution passes the same check.
        Assert.Equal(3, Regex.Matches(text, @"… Exercise \d: not answered yet").Count);
        Assert.Equal(3, Regex.Matches(text, @"✓ Exercise \d \(solution\)").Count);
        Assert.DoesNotContain("✗", text);

        var summary = File.ReadAllLines(Path.Combine(outDir, "hybrid-recall-summary.csv"));
        Assert.StartsWith("model,layers,params (MQAR),MQAR @L", summary[0]);
        Assert.Equal(new[] { "GDN", "GDN+SWA", "GDN+NSA", "Attention" }, summary.Skip(1).Select(l => l.Split(',')[0]));
        Assert.DoesNotContain("train seconds", summary[0]);                          // timings go to the .timings.csv
        Assert.True(File.Exists(Path.Combine(outDir, "hybrid-recall-summary.timings.csv")));
        var cells = File.ReadAllLines(Path.Combine(outDir, "hybrid-recall-cells.csv"));
        Assert.StartsWith("task,model,length,pairs,depth,score %,exact match %", cells[0]);
        foreach (var task in new[] { "MQAR length", "MQAR pairs", "S1", "S2", "S3" })
            Assert.Contains(cells, l => l.StartsWith(task + ","));
        foreach (var line in cells.Skip(1))
        {
            var f = line.Split(',');
            double exact = double.Parse(f[6], CultureInfo.InvariantCulture), tokens = double.Parse(f[7], CultureInfo.InvariantCulture);
            Assert.InRange(exact, 0, 100);
            Assert.InRange(tokens, exact - 1e-9, 100);                                 // exact match implies every answer token
        }
        Assert.True(File.Exists(Path.Combine(outDir, "hybrid-recall-training.csv")));
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
    }
}
