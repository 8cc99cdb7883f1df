using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using PathNotebooks.Notebooks;

namespace PathNotebooks.Tests.Notebooks;

public class CommittedNotebookTests
{
    public static IEnumerable<object[]> Notebooks() =>
        Directory.GetFiles(RepoPaths.Notebooks, "*.ipynb").OrderBy(p => p).Select(p => new object[] { Path.GetFileName(p) });

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void IsCleanWithPolyglotMetadata(string notebook)
    {
        var doc = NotebookDocument.Load(Path.Combine(RepoPaths.Notebooks, notebook));
        Assert.Empty(doc.CommitProblems());
        Assert.Matches(@"^\d\d-[a-z0-9-]+\.ipynb$", notebook);
        // The first code cell shows how the kit is referenced outside the runner.
        var first = doc.Cells.First(c => c.CellType == "code").Source;
        Assert.Contains("PathNotebooks.dll", first);
        Assert.Contains("Kit.Init()", first);
    }

    [Fact]
    public void CommitProblemsAreDetected()
    {
        var doc = NotebookDocument.Create(new[] { ("code", "1") });
        Assert.Empty(doc.CommitProblems());
        doc.Cells[0].Outputs.Add(new JsonObject { ["output_type"] = "stream" });
        doc.Metadata["kernelspec"] = new JsonObject { ["name"] = "python3" };
        var problems = doc.CommitProblems();
        Assert.Contains(problems, p => p.Contains("cell 1 has outputs"));
        Assert.Contains(problems, p => p.Contains("kernelspec.name"));
    }
}

/// <summary>Notebook 01 end to end, as a user runs it: the CLI in its own process, size tiny.</summary>
public class Notebook01Tests
{
    [Fact]
    public async Task RunsAtTinyAndYieldsChartsAndTable()
    {
        var outDir = RepoPaths.TempDir("nb01");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoPaths.Root };
        foreach (var a in new[] { RepoPaths.CliDll, "notebook", "run", Path.Combine(RepoPaths.Notebooks, "01-rope-rotations.ipynb"), "--size", "tiny", "--device", "cpu", "--out", outDir })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{await stdout}\n{await stderr}");

        var executed = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "01-rope-rotations.ipynb")))!;
        var outputs = ((JsonArray)executed["cells"]!).SelectMany(c => c!["outputs"] as JsonArray ?? new JsonArray()).ToList();
        Assert.DoesNotContain(outputs, o => o!["output_type"]!.GetValue<string>() == "error");
        int charts = outputs.Count(o => o!["data"]?["application/vnd.plotly.v1+json"] != null);
        Assert.True(charts >= 8, $"expected the notebook's charts, got {charts}");
        Assert.True(File.Exists(Path.Combine(outDir, "01-rope-rotations.html")));

        var csv = File.ReadAllLines(Path.Combine(outDir, "length-extrapolation.csv"));
        Assert.StartsWith("encoding,eval length,vs train,accuracy", csv[0]);
        Assert.Equal(1 + 3 * 3, csv.Length);                                    // 3 encodings × 3 lengths
        var rope = csv.Skip(1).Select(l => l.Split(',')).Where(f => f[0] == "RoPE").ToList();
        Assert.True(double.Parse(rope[0][3], System.Globalization.CultureInfo.InvariantCulture) > 0.9, "RoPE should learn the lag task at the training length");
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.True(run["succeeded"]!.GetValue<bool>());
        Assert.Contains(0, ((JsonArray)run["seeds"]!).Select(s => s!.GetValue<int>()));
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
        Assert.Contains("cuda", gpu["postCreateCommand"]!.GetValue<string>());
        var cpu = Parse(".devcontainer/devcontainer.json");
        Assert.Null(cpu["runArgs"]);
    }
}
