using System.Globalization;
using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 02 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook02Tests
{
    const string Name = "02-positional-vectors";

    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTables()
    {
        var notebookRun = await RepoPaths.RunNotebookAsync(Name + ".ipynb");      // no error outputs, HTML page written
        var outDir = notebookRun.OutputDirectory;
        var outputs = notebookRun.Outputs;
        int charts = notebookRun.Charts;
        // loss, 4 PCA, 2 norms, 4 cosine heatmaps, 2 sink bars, 2 drift, ppl, 2 extension charts
        Assert.True(charts >= 18, $"expected the notebook's charts, got {charts}");

        var rows = File.ReadAllLines(Path.Combine(outDir, "positional-vectors.csv"));
        Assert.StartsWith("model,base_model,setting,ppl_C,ppl_2C,ppl_4C,train_loss", rows[0]);
        var fields = rows.Skip(1).Select(l => l.Split(',')).ToList();
        // 4 models + 2 replacement layers + 2 attention scalings + 3 window extensions (tiny settings)
        Assert.Equal(11, fields.Count);
        Assert.Equal(new[] { "NoPE", "RoPE", "ALiBi", "NoPE-window8" }, fields.Take(4).Select(f => f[0]));
        Assert.Contains(fields, f => f[0].StartsWith("NoPE + PV replacement"));
        Assert.Contains(fields, f => f[0].StartsWith("NoPE-window8 + window"));
        foreach (var f in fields.Take(4))
        {
            double pplC = double.Parse(f[3], CultureInfo.InvariantCulture);
            Assert.True(pplC > 1 && pplC < 20, $"{f[0]}: a trained byte-level LM has perplexity well below the 256 of chance at C, got {pplC}");
        }

        var sinks = File.ReadAllLines(Path.Combine(outDir, "attention-sinks.csv"));
        Assert.Equal(1 + 4, sinks.Length);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)run["seeds"]!).Select(s => s!.GetValue<int>()));
    }
}
