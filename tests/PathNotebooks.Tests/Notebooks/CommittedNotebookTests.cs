using System.Text.Json;
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

public class DevcontainerTests
{
    static JsonNode Parse(string relative) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, relative)), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;

    [Theory]
    [InlineData(".devcontainer/devcontainer.json")]
    [InlineData(".devcontainer/gpu/devcontainer.json")]
    public void ParsesAndReferencesExistingFiles(string path)
    {
        var config = Parse(path);
        Assert.StartsWith("mcr.microsoft.com/devcontainers/dotnet:10", config["image"]?.GetValue<string>() ?? "");
        Assert.Contains("ms-dotnettools.csharp", config["customizations"]!["vscode"]!["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));
        var postCreate = config["postCreateCommand"]!.GetValue<string>();
        foreach (var word in postCreate.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w.Contains('/') && !w.StartsWith('-')))
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, word)) || Directory.Exists(Path.Combine(RepoPaths.Root, word)), $"{path}: postCreateCommand names '{word}', which does not exist");
    }

    [Fact]
    public void GpuConfigAsksForGpusAndTheCudaBackend()
    {
        var gpu = Parse(".devcontainer/gpu/devcontainer.json");
        Assert.Equal("optional", gpu["hostRequirements"]!["gpu"]!.GetValue<string>());
        Assert.Contains("--gpus", gpu["runArgs"]!.AsArray().Select(a => a!.GetValue<string>()));
        // The backend is a property of the environment, so the README's plain commands build with CUDA there too.
        Assert.Equal("cuda", gpu["containerEnv"]!["TorchBackend"]!.GetValue<string>());
        var cpu = Parse(".devcontainer/devcontainer.json");
        Assert.Null(cpu["runArgs"]);
        Assert.Equal("cpu", cpu["containerEnv"]!["TorchBackend"]!.GetValue<string>());
        // Both install Jupyter and register the kernel with the script the README gives classrooms.
        Assert.Contains("scripts/jupyter-kernel.sh", File.ReadAllText(Path.Combine(RepoPaths.Root, ".devcontainer", "post-create.sh")));
    }
}
