using System.Globalization;
using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 04 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook04Tests
{
    const string Name = "04-fox-forgetting";

    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTable()
    {
        var notebookRun = await RepoPaths.RunNotebookAsync(Name + ".ipynb");      // no error outputs, HTML page written
        var outDir = notebookRun.OutputDirectory;
        var outputs = notebookRun.Outputs;
        int charts = notebookRun.Charts;
        Assert.True(charts >= 8, $"expected the notebook's charts (3 decay patterns, training, per-position loss, gates, 2 learned decays), got {charts}");
        var text = string.Join("\n", outputs.SelectMany(OutputText.Strings));
        Assert.Contains("same −∞ pattern: True", text);                                 // ALiBi = FoX with constant gates

        var csv = File.ReadAllLines(Path.Combine(outDir, "fox-per-position-loss.csv"));
        Assert.StartsWith("model,loss at L,loss at 2L,loss at 4L,change L→4L", csv[0]);
        Assert.Equal(1 + 4, csv.Length);                                                  // RoPE, FoX, PaTH, PaTH-FoX
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0]);
        Assert.Equal(new[] { "RoPE", "FoX", "PaTH", "PaTH-FoX" }, rows.Keys);
        foreach (var (model, f) in rows)
            for (int c = 1; c <= 3; c++)
            {
                var loss = double.Parse(f[c], CultureInfo.InvariantCulture);
                Assert.True(loss > 0.5 && loss < Math.Log(256), $"{model}: loss {loss} should be learned (below uniform 5.55) and positive");
            }
        Assert.Contains("max |FoX bias with constant gates − ALiBi bias| = 0.0E+000", text);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)run["seeds"]!).Select(s => s!.GetValue<int>()));
    }
}
