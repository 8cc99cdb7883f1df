namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 03 (PaTH) end to end at tiny: PaTH must beat RoPE on flip-flop, as in the paper; the per-seed and
/// summary tables, the per-token-type analysis and every exercise's worked solution must be there.</summary>
[Collection("notebook runs")]
public class Notebook03Tests
{
    [Fact]
    public async Task RunsAtTinyAndPathSolvesFlipFlop()
    {
        var run = await RepoPaths.RunNotebookAsync("03-path-householder.ipynb");
        Assert.True(run.Charts >= 11, $"expected the notebook's charts, got {run.Charts}");

        // per (model, seed): model, seed, params, error ID, error sparse, error dense (tiny: one seed)
        var flipFlop = run.Table("flip-flop", "model,seed,params,");
        Assert.Equal(new[] { "NoPE", "RoPE", "PaTH" }, flipFlop.Select(r => r[0]));
        Assert.All(flipFlop, r => Assert.Equal("0", r[1]));
        double pathSparse = NotebookRun.Number(flipFlop[2][4]), ropeSparse = NotebookRun.Number(flipFlop[1][4]);
        Assert.True(pathSparse < 5 && ropeSparse > 20, $"sparse-OOD read error: PaTH {pathSparse} %, RoPE {ropeSparse} %");

        // summary over seeds: the mean of one seed is that seed's number, min = mean = max
        var summary = run.Table("flip-flop-summary", "model,seeds,error ID % mean,error ID % min,error ID % max,error sparse % mean");
        Assert.Equal(new[] { "NoPE", "RoPE", "PaTH" }, summary.Select(r => r[0]));
        Assert.Equal(pathSparse, NotebookRun.Number(summary[2][5]), 3);

        var words = run.Table("word-problem", "model,group,length,seed,token accuracy,sequence accuracy,final accuracy");
        Assert.Equal(2 * 5, words.Count);                                            // RoPE and PaTH × 5 lengths
        Assert.All(words, r => Assert.InRange(NotebookRun.Number(r[6]), 0, 1));
        var wordSummary = run.Table("word-problem-summary", "model,group,length,seeds,token accuracy mean");
        Assert.Equal(words.Count, wordSummary.Count);

        string text = string.Concat(run.Outputs.SelectMany(o => OutputText.Strings(o)));
        Assert.Contains("mass on last written bit", text);                          // the read-attention tables
        Assert.Contains("bit after w", text);                                        // PaTH's transforms per token type
        Assert.Contains("StepVsFull", text);                                         // the decode-cache check
        for (int e = 1; e <= 4; e++)
        {
            Assert.Contains($"✓ Exercise {e} (solution)", text);
            Assert.Contains($"Exercise {e}: not answered yet", text);                 // the student's cell, placeholder kept
        }
    }
}
