using System.Text.Json.Nodes;
using PathNotebooks.Notebooks;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>The notebook runner on small fixture notebooks, in this process.</summary>
[Collection("torch")]
public class RunnerTests
{
    static async Task<(NotebookRunResult Result, JsonObject Executed)> Run(string name, TimeSpan? timeout, params string[] codeCells)
    {
        var dir = RepoPaths.TempDir(name);
        var path = Path.Combine(dir, name + ".ipynb");
        var cells = new List<(string, string)> { ("markdown", "# fixture") };
        cells.AddRange(codeCells.Select(c => ("code", c)));
        File.WriteAllText(path, NotebookDocument.Create(cells).ToJson());
        var result = await NotebookRunner.RunAsync(path, new NotebookRunOptions
        {
            OutputDirectory = Path.Combine(dir, "out"), Size = "tiny", Device = "cpu", CellTimeout = timeout ?? TimeSpan.FromMinutes(2),
        });
        return (result, (JsonObject)JsonNode.Parse(File.ReadAllText(result.ExecutedNotebook))!);
    }

    static JsonArray Outputs(JsonObject nb, int cellNumber) => (JsonArray)nb["cells"]![cellNumber - 1]!["outputs"]!;
    static string Text(JsonNode? lines) => lines is JsonArray a ? string.Concat(a.Select(l => l!.GetValue<string>())) : lines?.GetValue<string>() ?? "";

    [Fact]
    public async Task StateCarriesAcrossCellsAndValuesBecomeOutputs()
    {
        var (result, nb) = await Run("state", null,
            "var x = 20; class Counter { public int N; }",
            "var c = new Counter { N = x + 1 }; Console.WriteLine(\"printed\"); c.N * 2",
            "display(\"shown\"); \"also\".Display(); display(new int[] { 1, 2, 3 });",
            "var df = new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.DoubleDataFrameColumn(\"v\", new double[] { 1.5 }));\ndf",
            "PathNotebooks.Charts.Plot.Lines(\"t\", \"x\", \"y\", new[] { new PathNotebooks.Charts.Series(\"s\", new double[] { 0, 1 }, new double[] { 1, 0 }) })");
        Assert.True(result.Succeeded, result.Error);
        var cell3 = Outputs(nb, 3);
        Assert.Equal("stream", cell3[0]!["output_type"]!.GetValue<string>());
        Assert.Equal("printed\n", Text(cell3[0]!["text"]));
        Assert.Equal("execute_result", cell3[1]!["output_type"]!.GetValue<string>());
        Assert.Equal("42", Text(cell3[1]!["data"]!["text/plain"]));
        var cell4 = Outputs(nb, 4);
        Assert.Equal(new[] { "shown", "also", "[1, 2, 3]" }, cell4.Select(o => Text(o!["data"]!["text/plain"])));
        Assert.Contains("<table", Text(Outputs(nb, 5)[0]!["data"]!["text/html"]));
        var chart = Outputs(nb, 6)[0]!["data"]!;
        Assert.NotNull(chart["application/vnd.plotly.v1+json"]!["data"]);
        Assert.DoesNotContain("cdn.plot.ly", Text(chart["text/html"]));
        Assert.True(File.Exists(result.HtmlPage));
        var page = File.ReadAllText(result.HtmlPage);
        Assert.Contains("Plotly.newPlot", page);
        Assert.DoesNotContain("<script src=\"http", page);                      // offline: plotly.js inlined
        Assert.Equal(5, result.Cells.Count);
        var run = JsonNode.Parse(File.ReadAllText(result.RunJson))!;
        Assert.Equal("cpu", run["device"]!.GetValue<string>());
        Assert.Equal("tiny", run["size"]!.GetValue<string>());
        Assert.Equal(5, ((JsonArray)run["cells"]!).Count);
    }

    [Fact]
    public async Task AFailingCellStopsTheNotebookAndNamesTheCell()
    {
        var (result, nb) = await Run("fails", null, "var ok = 1;", "throw new InvalidOperationException(\"boom\");", "Console.WriteLine(\"never\");");
        Assert.False(result.Succeeded);
        Assert.Equal(3, result.FailedCell);                                       // markdown is cell 1
        var error = Outputs(nb, 3)[0]!;
        Assert.Equal("error", error["output_type"]!.GetValue<string>());
        Assert.Contains("cell 3", error["evalue"]!.GetValue<string>());
        Assert.Contains("boom", error["evalue"]!.GetValue<string>());
        Assert.Empty(Outputs(nb, 4));
        Assert.True(File.Exists(result.HtmlPage));
    }

    [Fact]
    public async Task CompileErrorsNameCellAndLine()
    {
        var (result, _) = await Run("compile", null, "var a = 1;", "var b = 2;\nint c = \"text\";");
        Assert.False(result.Succeeded);
        Assert.Equal(3, result.FailedCell);
        Assert.Contains("cell 3, line 2", result.Error);
    }

    [Fact]
    public async Task KnownPackageReferencesAreAcceptedOthersRejectedClearly()
    {
        var ok = await Run("nuget-ok", null, "#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"../lib/PathNotebooks/bin/Release/net8.0/PathNotebooks.dll\"\n#!csharp\nvar fine = 1;");
        Assert.True(ok.Result.Succeeded, ok.Result.Error);

        var unknown = await Run("nuget-unknown", null, "var a = 1;", "// fetch a package\n#r \"nuget: Newtonsoft.Json, 13.0.3\"");
        Assert.False(unknown.Result.Succeeded);
        Assert.Contains("cell 3, line 2", unknown.Result.Error);
        Assert.Contains("Newtonsoft.Json", unknown.Result.Error);
        Assert.Contains("cannot install packages", unknown.Result.Error);

        var version = await Run("nuget-version", null, "#r \"nuget: TorchSharp-cpu, 0.105.0\"");
        Assert.Contains("0.107.0", version.Result.Error);

        var magic = await Run("magic", null, "#!fsharp\nlet x = 1");
        Assert.Contains("'#!fsharp' is not supported", magic.Result.Error);
    }

    [Fact]
    public async Task ACellThatRunsTooLongTimesOut()
    {
        var (result, nb) = await Run("timeout", TimeSpan.FromSeconds(1), "System.Threading.Thread.Sleep(4000);");
        Assert.False(result.Succeeded);
        Assert.Equal(2, result.FailedCell);
        Assert.Contains("timeout", result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("error", Outputs(nb, 2)[0]!["output_type"]!.GetValue<string>());
    }
}
