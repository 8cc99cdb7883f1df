using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>
/// The notebook runner on small fixture notebooks, each run as a user runs one: `pathnb notebook run`, which executes it
/// in the .NET Interactive C# kernel with packages restored from NuGet.
/// </summary>
[Collection("notebook runs")]
public class RunnerTests
{
    static Task<NotebookRun> Run(string name, double? cellTimeoutSeconds, params string[] codeCells)
    {
        var cells = new List<(string, string)> { ("markdown", "# fixture") };
        cells.AddRange(codeCells.Select(c => ("code", c)));
        var path = FixtureNotebook.Write(Path.Combine(RepoPaths.TempDir(name), name + ".ipynb"), cells.ToArray());
        return RepoPaths.RunNotebookAsync(path, mustSucceed: false, cellTimeoutSeconds);
    }

    static IEnumerable<string> Kinds(JsonArray outputs) => outputs.Select(o => o!["output_type"]!.GetValue<string>());

    [Fact]
    public async Task KernelSemanticsFormattersAndPageAsInPolyglot()
    {
        var run = await Run("state", null,
            FixtureNotebook.KitReferences + "using PathNotebooks.Charts;\nvar runtime = PathNotebooks.Experiments.Kit.Init();\nvar x = 20; class Counter { public int N; }",
            "var c = new Counter { N = x + 1 }; Console.WriteLine(\"printed\"); c.N * 2",
            "display(\"shown\"); \"also\".Display(); display(new int[] { 1, 2, 3 });",
            "var df = new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.DoubleDataFrameColumn(\"v\", new double[] { 1.5 }));\ndf",
            "Plot.Lines(\"t\", \"x\", \"y\", new[] { new Series(\"s\", new double[] { 0, 1 }, new double[] { 1, 0 }) })");
        Assert.True(run.ExitCode == 0, run.Log);

        var cell3 = run.OutputsOf(3);                                              // stdout, then the cell's value
        Assert.Equal(new[] { "stream", "execute_result" }, Kinds(cell3));
        Assert.Equal("printed\n", NotebookRun.Text(cell3[0]!["text"]));
        Assert.Contains(">42<", NotebookRun.Text(cell3[1]!["data"]!["text/html"]));
        var cell4 = run.OutputsOf(4);                                              // display() and .Display(), in order
        Assert.Equal(3, cell4.Count);
        Assert.Equal("shown", NotebookRun.Text(cell4[0]!["data"]!["text/plain"]));
        Assert.Equal("also", NotebookRun.Text(cell4[1]!["data"]!["text/plain"]));
        Assert.Contains("<table", NotebookRun.Text(run.OutputsOf(5)[0]!["data"]!["text/html"]));   // Data.Analysis's formatter
        Assert.True(NotebookRun.IsChart(run.OutputsOf(6)[0]!), "Plotly.NET.Interactive should format the chart");

        var page = File.ReadAllText(Path.Combine(run.OutputDirectory, "state.html"));
        Assert.Contains("Plotly.newPlot", page);                                   // drawn from the figure JSON…
        Assert.DoesNotContain("<script src=", page);                               // …with plotly.js inlined: offline
        Assert.DoesNotContain("requirejs", page);
        Assert.Contains("white-space:pre-wrap", page);

        var json = run.RunJson;
        Assert.True(json["succeeded"]!.GetValue<bool>());
        Assert.Equal("cpu", json["device"]!.GetValue<string>());                   // from the kit loaded in the kernel
        Assert.Equal("tiny", json["size"]!.GetValue<string>());
        Assert.Equal(5, ((JsonArray)json["cells"]!).Count);
        Assert.StartsWith("Microsoft.DotNet.Interactive", json["kernel"]!.GetValue<string>());
    }

    [Fact]
    public async Task AFailingCellStopsTheNotebookAndNamesTheCell()
    {
        var run = await Run("fails", null, "var ok = 1;", "throw new InvalidOperationException(\"boom\");", "Console.WriteLine(\"never\");");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at cell 3", run.Log);                             // markdown is cell 1
        var error = run.OutputsOf(3).Single()!;
        Assert.Equal("error", error["output_type"]!.GetValue<string>());
        Assert.Contains("boom", error["evalue"]!.GetValue<string>());
        Assert.Empty(run.OutputsOf(4));
        var page = File.ReadAllText(Path.Combine(run.OutputDirectory, "fails.html"));
        Assert.Contains("not run", page);
        Assert.Equal(3, run.RunJson["failed_cell"]!.GetValue<int>());
    }

    [Fact]
    public async Task CompileErrorsNameTheCellAndLine()
    {
        var run = await Run("compile", null, "var a = 1;", "var b = 2;\nint c = \"text\";");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at cell 3", run.Log);
        Assert.Contains("(2,9)", run.Log);                                         // the kernel's line,column of the error
        Assert.Contains("CS0029", run.Log);
    }

    [Fact]
    public async Task AnUnknownPackageFailsWithTheKernelsMessage()
    {
        var run = await Run("nuget-unknown", null, "#r \"nuget: PathNotebooks.No.Such.Package, 1.0.0\"");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("PathNotebooks.No.Such.Package", run.Log);
    }

    [Fact]
    public async Task ACellThatRunsTooLongTimesOut()
    {
        var run = await Run("timeout", 2, "System.Threading.Thread.Sleep(30000);");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("timeout", run.Log, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("error", run.OutputsOf(2).Single()!["output_type"]!.GetValue<string>());
        // The results are written although the timed-out cell is still running in the kernel.
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run.OutputDirectory, "run.json")))!;
        Assert.False(record["succeeded"]!.GetValue<bool>());
        Assert.Equal(2, record["failed_cell"]!.GetValue<int>());
    }
}
