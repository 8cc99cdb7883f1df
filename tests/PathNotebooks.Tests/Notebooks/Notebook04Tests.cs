using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 04 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook04Tests
{
    const string Name = "04-fox-forgetting";
    static readonly string[] Models = { "RoPE", "FoX", "FoX (gate/√d)", "PaTH", "PaTH-FoX" };

    [Fact]
    public async Task RunsAtTinyAndYieldsChartsTablesAndSolvedExercises()
    {
        var notebookRun = await RepoPaths.RunNotebookAsync(Name + ".ipynb");      // no error outputs, HTML page written
        var outDir = notebookRun.OutputDirectory;
        var outputs = notebookRun.Outputs;
        int charts = notebookRun.Charts;
        Assert.True(charts >= 10, $"expected the notebook's charts (3 decay patterns, training, per-position loss, gates, 2 learned decays, attended distance, context use), got {charts}");
        var text = string.Join("\n", outputs.SelectMany(OutputText.Strings));
        Assert.Contains("same −∞ pattern: True", text);                                 // ALiBi = FoX with constant gates
        Assert.Contains("max |FoX bias with constant gates − ALiBi bias| = 0.0E+000", text);
        Assert.Contains("max |FoX kernel with log f/√d − softmax(QKᵀ/√d + D/√d)V| = ", text);

        // Per-seed table: one row per model (one seed at tiny), per-band losses learned.
        var rows = notebookRun.Table("fox-per-position-loss", "model,seed,loss at L,loss at 2L,loss at 4L,change L→4L");
        Assert.Equal(Models, rows.Select(f => f[0]));
        Assert.All(rows, f => Assert.Equal("0", f[1]));
        foreach (var f in rows)
            for (int c = 2; c <= 4; c++)
            {
                var loss = NotebookRun.Number(f[c]);
                Assert.True(loss > 0.5 && loss < Math.Log(256), $"{f[0]}: loss {loss} should be learned (below uniform 5.55) and positive");
            }
        // Summary over seeds: with one seed, mean = min = max.
        var summary = notebookRun.Table("fox-per-position-loss-summary", "model,seeds,loss at L mean,loss at L min,loss at L max");
        Assert.Equal(Models, summary.Select(f => f[0]));
        foreach (var (s, r) in summary.Zip(rows))
        {
            Assert.Equal("1", s[1]);
            Assert.Equal(NotebookRun.Number(r[2]), NotebookRun.Number(s[2]));
            Assert.Equal(NotebookRun.Number(s[3]), NotebookRun.Number(s[4]));
        }
        // Context use: bands 2L and 4L per model; cut − full is the difference of the two columns.
        var use = notebookRun.Table("fox-context-use", "model,seed,band,full context,cut to L,cut − full");
        Assert.Equal(Models.Length * 2, use.Count);
        Assert.Equal(Models, use.Select(f => f[0]).Distinct());
        foreach (var f in use)
        {
            double full = NotebookRun.Number(f[3]), cut = NotebookRun.Number(f[4]);
            Assert.True(full > 0.5 && full < Math.Log(256) && cut > 0.5 && cut < Math.Log(256), $"{f[0]} {f[2]}: losses {full}, {cut}");
            Assert.Equal(cut - full, NotebookRun.Number(f[5]), 3);
        }
        // Attended distance: 5 models × 2 layers × 2 heads, within what a query can reach.
        var distances = notebookRun.Table("fox-attended-distance", "model,seed,layer,head,distance at L,distance at 4L,uniform at L,uniform at 4L");
        Assert.Equal(Models.Length * 2 * 2, distances.Count);
        Assert.All(distances, f => Assert.InRange(NotebookRun.Number(f[4]), 0, 64));
        Assert.All(distances, f => Assert.InRange(NotebookRun.Number(f[5]), 0, 256));

        // Exercises: the placeholders report "not answered yet", every worked solution passes its check.
        for (int e = 1; e <= 4; e++)
        {
            Assert.Contains($"… Exercise {e}: not answered yet", text);
            Assert.Contains($"✓ Exercise {e} (solution)", text);
        }
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)run["seeds"]!).Select(s => s!.GetValue<int>()));
    }
}
