using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Every committed notebook, unchanged, in the real kernel under Jupyter, as a classroom runs it.</summary>
[Collection("notebook runs")]
public class JupyterKernelTests
{
    public static IEnumerable<object[]> Notebooks() => CommittedNotebookTests.Notebooks();

    [JupyterTheory]
    [MemberData(nameof(Notebooks))]
    public async Task RunsEveryCellWithChartsAndTables(string notebook)
    {
        var (code, output, executed, results) = await Jupyter.ExecuteAsync(Path.Combine(RepoPaths.Notebooks, notebook));
        Assert.True(code == 0, $"nbconvert exit {code}:\n{Tail(output)}");
        var run = new NotebookRun(results, code, output, (JsonArray)executed!["cells"]!);
        Assert.DoesNotContain(run.Outputs, o => o["output_type"]!.GetValue<string>() == "error");
        Assert.True(run.Charts >= 5, $"expected the notebook's charts drawn by Plotly.NET.Interactive, got {run.Charts}");
        Assert.Contains(run.Outputs, o => NotebookRun.Text(o["data"]?["text/html"]).Contains("<table", StringComparison.Ordinal));   // a DataFrame
        Assert.NotEmpty(Directory.GetFiles(results, "*.csv"));                                                                      // the experiment's table
        Assert.Contains(run.Outputs, o => NotebookRun.Text(o["text"]).Contains("weak-patched glue", StringComparison.Ordinal) ||
                                          NotebookRun.Text(o["text"]).Contains("pathnb runtime: device=cpu", StringComparison.Ordinal));
    }

    [JupyterFact]
    public async Task ABrokenCellFailsTheRun()
    {
        var path = FixtureNotebook.WriteCode(Path.Combine(RepoPaths.TempDir("jupyter-broken"), "broken.ipynb"),
            "var fine = 1;", "throw new InvalidOperationException(\"a deliberately broken cell\");", "Console.WriteLine(\"never\");");
        var (code, output, _, _) = await Jupyter.ExecuteAsync(path);
        Assert.NotEqual(0, code);
        Assert.Contains("a deliberately broken cell", output);
    }

    static string Tail(string text) => text.Length <= 6000 ? text : text[^6000..];
}
