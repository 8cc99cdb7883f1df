namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 03 (PaTH) end to end at tiny: PaTH must beat RoPE on flip-flop, as in the paper.</summary>
[Collection("notebook runs")]
public class Notebook03Tests
{
    [Fact]
    public async Task RunsAtTinyAndPathSolvesFlipFlop()
    {
        var run = await RepoPaths.RunNotebookAsync("03-path-householder.ipynb");
        Assert.True(run.Charts >= 8, $"expected the notebook's charts, got {run.Charts}");
        var flipFlop = run.Table("flip-flop", "model,");
        Assert.Equal(new[] { "NoPE", "RoPE", "PaTH" }, flipFlop.Select(r => r[0]));
        double pathSparse = NotebookRun.Number(flipFlop[2][3]), ropeSparse = NotebookRun.Number(flipFlop[1][3]);
        Assert.True(pathSparse < 5 && ropeSparse > 20, $"sparse-OOD read error: PaTH {pathSparse} %, RoPE {ropeSparse} %");
        Assert.NotEmpty(run.Table("word-problem", "model,group,length"));
    }
}
