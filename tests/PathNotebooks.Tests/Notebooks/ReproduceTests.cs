using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>`pathnb reproduce` on a folder of small fixture notebooks, in its own process as a user runs it.</summary>
[Collection("notebook runs")]
public class ReproduceTests
{
    static async Task<(int Code, string Output)> Pathnb(string workingDirectory, params string[] args)
    {
        var (code, stdout, stderr) = await RepoPaths.PathnbAsync(workingDirectory, args);
        return (code, stdout + stderr);
    }

    [Fact]
    public async Task WritesResultsPerNotebookPrintsSummaryAndFailsOnAFailingNotebook()
    {
        var root = RepoPaths.TempDir("reproduce");
        var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
        FixtureNotebook.WriteCode(Path.Combine(notebooks, "01-ok.ipynb"),
            FixtureNotebook.KitReferences + "using PathNotebooks.Experiments;\nvar info = Kit.Init();\nvar df = new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.DoubleDataFrameColumn(\"x\", new double[] { 0.5 }));\ninfo.SaveTable(df, \"table\");\ninfo.Size.ToString()");
        FixtureNotebook.WriteCode(Path.Combine(notebooks, "02-fails.ipynb"), "throw new Exception(\"planned\");");
        var results = Path.Combine(root, "results");

        var (code, output) = await Pathnb(root, "reproduce", "--notebooks", notebooks, "--out", results, "--device", "cpu");
        Assert.Equal(1, code);                                                   // one notebook failed
        Assert.Contains("01-ok", output);
        Assert.Contains("1 passed, 1 failed", output);
        var ok = Path.Combine(results, "01-ok");
        foreach (var file in new[] { "01-ok.ipynb", "01-ok.html", "run.json", "table.csv" })
            Assert.True(File.Exists(Path.Combine(ok, file)), $"missing {file}");
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(ok, "run.json")))!;
        Assert.Equal("tiny", run["size"]!.GetValue<string>());
        Assert.Equal("cpu", run["device"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(results, "02-fails", "02-fails.ipynb")));   // the error cell can be read
        Assert.Empty(Directory.GetDirectories(results, ".*"));                            // no partial folders left

        // Re-running one notebook replaces its folder cleanly: a stray file from before is gone.
        File.WriteAllText(Path.Combine(ok, "stale.txt"), "old");
        (code, output) = await Pathnb(root, "reproduce", "--notebooks", notebooks, "--out", results, "--only", "01", "--device", "cpu");
        Assert.True(code == 0, output);
        Assert.False(File.Exists(Path.Combine(ok, "stale.txt")));
        Assert.True(File.Exists(Path.Combine(ok, "table.csv")));
    }

    [Fact]
    public async Task BadArgumentsGetAClearMessage()
    {
        var (code, output) = await Pathnb(RepoPaths.Root, "reproduce", "--size", "huge");
        Assert.Equal(2, code);
        Assert.Contains("--size must be one of tiny | full", output);
        (code, output) = await Pathnb(RepoPaths.Root, "notebook", "run", "does-not-exist.ipynb");
        Assert.Equal(2, code);
        Assert.Contains("notebook not found", output);
    }
}
