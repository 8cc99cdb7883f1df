using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Notebook 01 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
[Collection("notebook runs")]
public class Notebook01Tests
{
    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTable()
    {
        var run = await RepoPaths.RunNotebookAsync("01-rope-rotations.ipynb");
        Assert.True(run.Charts >= 8, $"expected the notebook's charts, got {run.Charts}");
        var rows = run.Table("length-extrapolation", "encoding,eval length,vs train,accuracy");
        Assert.Equal(3 * 3, rows.Count);                                           // 3 encodings × 3 lengths
        var rope = rows.Where(f => f[0] == "RoPE").ToList();
        Assert.True(NotebookRun.Number(rope[0][3]) > 0.9, "RoPE should learn the lag task at the training length");
        var runJson = JsonNode.Parse(File.ReadAllText(Path.Combine(run.OutputDirectory, "run.json")))!;
        Assert.True(runJson["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)runJson["seeds"]!).Select(s => s!.GetValue<int>()));
    }
}
