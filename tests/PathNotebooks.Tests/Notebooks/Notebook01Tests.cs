using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 01 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook01Tests
{
    [Fact]
    public async Task RunsAtTinyAndYieldsChartsTablesAndSolvedExercises()
    {
        var run = await RepoPaths.RunNotebookAsync("01-rope-rotations.ipynb");
        Assert.True(run.Charts >= 10, $"expected the notebook's charts, got {run.Charts}");

        // Per seed (tiny: 1 seed): accuracy at L, 2L, 4L (all positions t ≥ k) and in the bands beyond L.
        var rows = run.Table("length-extrapolation",
            "encoding,seed,accuracy at L,accuracy at 2L,accuracy at 4L,accuracy band L..2L-1,accuracy band 2L..4L-1,final train loss");
        Assert.Equal(3, rows.Count);                                               // 3 encodings × 1 seed
        Assert.Equal(new[] { "NoPE", "RoPE", "ALiBi" }, rows.Select(r => r[0]));
        Assert.All(rows, r => Assert.Equal("0", r[1]));
        var rope = rows.Single(r => r[0] == "RoPE");
        Assert.True(NotebookRun.Number(rope[2]) > 0.9, "RoPE should learn the lag task at the training length");
        Assert.All(rows, r => Assert.InRange(NotebookRun.Number(r[5]), 0, 1));

        // Summary over seeds: mean, min, max of each measure; with one seed all three agree.
        var summary = run.Table("length-extrapolation-summary", "encoding,measure,seeds,mean,min,max");
        Assert.Equal(3 * 5, summary.Count);
        Assert.All(summary, r => Assert.True(NotebookRun.Number(r[4]) <= NotebookRun.Number(r[3]) && NotebookRun.Number(r[3]) <= NotebookRun.Number(r[5])));
        Assert.Equal(NotebookRun.Number(rope[2]), NotebookRun.Number(summary.Single(r => r[0] == "RoPE" && r[1] == "at L")[3]));

        // Attention per head (2 layers × 2 heads per model), one copy head per model; RoPE's sits on t − k.
        var heads = run.Table("lag-attention", "encoding,seed,layer,head,copy head,at t-lag (t<L),at t-lag (t>=L),keys >=L back (t>=L),peak offset (t<L)");
        Assert.Equal(3 * 2 * 2, heads.Count);
        Assert.Equal(3, heads.Count(r => r[4] == "yes"));
        var ropeCopy = heads.Single(r => r[0] == "RoPE" && r[4] == "yes");
        Assert.True(NotebookRun.Number(ropeCopy[5]) > 0.5, $"RoPE's copy head should attend to t − k inside L, got {ropeCopy[5]}");
        Assert.Equal("8", ropeCopy[8]);                                            // tiny lag k = 8

        // Every exercise's worked solution ran and passed its own check; the student cells still await answers.
        var texts = run.Outputs.SelectMany(o => OutputText.Strings(o)).ToList();
        for (int i = 1; i <= 4; i++)
        {
            Assert.Contains(texts, t => t.Contains($"✓ Exercise {i} (solution)"));
            Assert.Contains(texts, t => t.Contains($"… Exercise {i}: not answered yet"));
        }

        var runJson = JsonNode.Parse(File.ReadAllText(Path.Combine(run.OutputDirectory, "run.json")))!;
        Assert.True(runJson["succeeded"]!.GetValue<bool>());
        var seeds = ((JsonArray)runJson["seeds"]!).Select(s => s!.GetValue<int>()).ToList();
        Assert.Contains(0, seeds);                                                 // model init, seed index 0
        Assert.Contains(1, seeds);                                                 // training batches
        Assert.Contains(1000, seeds);                                              // evaluation sequences
    }
}
