namespace PathNotebooks.Tests.Notebooks;

/// <summary>Locations in the repository and of the built CLI, found from the test assembly.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PathNotebooks.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (PathNotebooks.sln) not found above " + AppContext.BaseDirectory);
    }

    public static string Notebooks => Path.Combine(Root, "notebooks");

    /// <summary>The pathnb CLI built beside the tests (the test project references it).</summary>
    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "pathnb.dll");

    /// <summary>
    /// Runs one committed notebook through the CLI in its own process at size tiny on the CPU, as a user would, and
    /// returns the executed notebook's outputs; fails the test with the CLI's output when the run fails.
    /// </summary>
    public static async Task<NotebookRun> RunNotebookAsync(string notebookFile)
    {
        var outDir = TempDir(Path.GetFileNameWithoutExtension(notebookFile));
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        foreach (var a in new[] { CliDll, "notebook", "run", Path.Combine(Notebooks, notebookFile), "--size", "tiny", "--device", "cpu", "--out", outDir })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{await stdout}\n{await stderr}");
        var executed = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, Path.GetFileName(notebookFile))))!;
        var outputs = ((System.Text.Json.Nodes.JsonArray)executed["cells"]!)
            .SelectMany(c => c!["outputs"] as System.Text.Json.Nodes.JsonArray ?? new System.Text.Json.Nodes.JsonArray()).Select(o => o!).ToList();
        Assert.DoesNotContain(outputs, o => o["output_type"]!.GetValue<string>() == "error");
        Assert.True(File.Exists(Path.Combine(outDir, Path.GetFileNameWithoutExtension(notebookFile) + ".html")));
        return new NotebookRun(outDir, outputs);
    }

    public static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "pathnb-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>What a notebook run left: its output folder and the outputs of all cells.</summary>
public sealed record NotebookRun(string OutputDirectory, IReadOnlyList<System.Text.Json.Nodes.JsonNode> Outputs)
{
    public int Charts => Outputs.Count(o => o["data"]?["application/vnd.plotly.v1+json"] != null);

    /// <summary>The data rows of a CSV table the notebook saved, split on commas.</summary>
    public IReadOnlyList<string[]> Table(string name, string expectedHeaderStart)
    {
        var lines = File.ReadAllLines(Path.Combine(OutputDirectory, name + ".csv"));
        Assert.StartsWith(expectedHeaderStart, lines[0]);
        return lines.Skip(1).Select(l => l.Split(',')).ToList();
    }

    public static double Number(string s) => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
}
