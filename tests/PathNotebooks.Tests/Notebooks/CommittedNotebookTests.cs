using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

public class CommittedNotebookTests
{
    public static IEnumerable<object[]> Notebooks() =>
        Directory.GetFiles(RepoPaths.Notebooks, "*.ipynb").OrderBy(p => p).Select(p => new object[] { Path.GetFileName(p) });

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task IsCleanWithPolyglotMetadata(string notebook)
    {
        Assert.Matches(@"^\d\d-[a-z0-9-]+\.ipynb$", notebook);
        var path = Path.Combine(RepoPaths.Notebooks, notebook);
        var (code, stdout, stderr) = await RepoPaths.PathnbAsync(RepoPaths.Root, "notebook", "check", path);
        Assert.True(code == 0, stdout + stderr);
        // The first code cell brings the packages and the kit, as VS Code and Jupyter need, and starts the runtime.
        var cells = (JsonArray)JsonNode.Parse(File.ReadAllText(path))!["cells"]!;
        var first = NotebookRun.Text(cells.First(c => c!["cell_type"]!.GetValue<string>() == "code")!["source"]);
        Assert.Contains("#r \"nuget: Plotly.NET.Interactive, 6.0.0\"", first);
        Assert.Contains("#r \"../lib/PathNotebooks/bin/Release/net10.0/PathNotebooks.dll\"", first);
        Assert.Contains("Kit.Init()", first);
    }

    [Fact]
    public async Task CommitProblemsAreDetected()
    {
        var dir = RepoPaths.TempDir("check");
        var clean = FixtureNotebook.WriteCode(Path.Combine(dir, "clean.ipynb"), "1");
        Assert.Equal(0, (await RepoPaths.PathnbAsync(RepoPaths.Root, "notebook", "check", clean)).Code);
        var dirty = JsonNode.Parse(File.ReadAllText(clean))!;
        dirty["cells"]![0]!["outputs"] = new JsonArray(new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = "x" });
        dirty["metadata"]!["kernelspec"] = new JsonObject { ["name"] = "python3", ["language"] = "python" };
        var path = Path.Combine(dir, "dirty.ipynb");
        File.WriteAllText(path, dirty.ToJsonString());
        var (code, stdout, _) = await RepoPaths.PathnbAsync(RepoPaths.Root, "notebook", "check", path);
        Assert.Equal(1, code);
        Assert.Contains("cell 1 has outputs", stdout);
        Assert.Contains("kernelspec.name", stdout);
    }
}
