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
        int charts = notebookRun.Charts;
        // loss, layer shares, 4 PCA, 2 norms, 4 cosine heatmaps, 2 sink bars, decay, 2 drift, split-half drift, ppl,
        // 2 extension charts, t/r match
        Assert.True(charts >= 22, $"expected the notebook's charts, got {charts}");

        var fields = notebookRun.Table("positional-vectors", "model,base_model,setting,seed,ppl_0_C,ppl_C_2C,ppl_2C_4C,train_loss");
        // 4 models + 2 replacement layers + 2 attention scalings + 3 window extensions (tiny settings, one seed)
        Assert.Equal(11, fields.Count);
        Assert.All(fields, f => Assert.Equal("0", f[3]));
        Assert.Equal(new[] { "NoPE", "RoPE", "ALiBi", "NoPE-window8" }, fields.Take(4).Select(f => f[0]));
        Assert.Contains(fields, f => f[0].StartsWith("NoPE + PV replacement"));
        Assert.Contains(fields, f => f[0].StartsWith("NoPE-window8 + window"));
        foreach (var f in fields.Take(4))
        {
            double pplC = NotebookRun.Number(f[4]);
            Assert.True(pplC > 1 && pplC < 20, $"{f[0]}: a trained byte-level LM has perplexity well below the 256 of chance in [0, C), got {pplC}");
        }

        var summary = notebookRun.Table("positional-vectors-summary", "model,base_model,setting,seeds,ppl_0_C_mean,ppl_0_C_min,ppl_0_C_max");
        Assert.Equal(11, summary.Count);
        Assert.All(summary.Zip(fields), p => Assert.Equal(NotebookRun.Number(p.Second[4]), NotebookRun.Number(p.First[4]), 6));   // one seed: mean = the row

        var sinks = File.ReadAllLines(Path.Combine(outDir, "attention-sinks.csv"));
        Assert.Equal(1 + 4, sinks.Length);
        var anchors = notebookRun.Table("anchor-ablation", "model,removed after layer 1,layer");
        Assert.Equal(4 * 2 * 2, anchors.Count);                                    // 4 models × 2 removed tokens × layers 2…3
        var floors = notebookRun.Table("drift-noise-floor", "model,copy level");
        Assert.Equal(4, floors.Count);
        foreach (var f in floors)
            Assert.True(NotebookRun.Number(f[1]) > NotebookRun.Number(f[3]), $"{f[0]}: the copy level must lie above the noise floor");

        var texts = notebookRun.Outputs.SelectMany(o => OutputText.Strings(o)).ToList();
        foreach (var exercise in new[] { "Exercise 1", "Exercise 2", "Exercise 3" })
        {
            Assert.Contains(texts, t => t.Contains($"✓ {exercise} (solution)"));
            Assert.Contains(texts, t => t.Contains($"… {exercise}: not answered yet"));
        }

        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)run["seeds"]!).Select(s => s!.GetValue<int>()));
    }
}
