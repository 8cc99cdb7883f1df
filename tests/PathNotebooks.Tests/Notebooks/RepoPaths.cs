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

    /// <summary>Runs the pathnb CLI (as `dotnet pathnb.dll ARGS`) in <paramref name="workingDirectory"/> and returns its exit code and output.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> PathnbAsync(string workingDirectory, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Runs a notebook through the CLI (`pathnb notebook run`: the .NET Interactive C# kernel, packages from NuGet) in its
    /// own process at size tiny on the CPU, as a user would, and returns what it left. With <paramref name="mustSucceed"/>
    /// the test fails with the CLI's output when the run fails or any cell has an error output.
    /// </summary>
    public static async Task<NotebookRun> RunNotebookAsync(string notebookPath, bool mustSucceed = true, double? cellTimeoutSeconds = null)
    {
        notebookPath = Path.IsPathRooted(notebookPath) ? notebookPath : Path.Combine(Notebooks, notebookPath);
        var outDir = TempDir(Path.GetFileNameWithoutExtension(notebookPath));
        var args = new List<string> { "notebook", "run", notebookPath, "--size", "tiny", "--device", "cpu", "--out", outDir };
        if (cellTimeoutSeconds is double t) args.AddRange(new[] { "--cell-timeout", t.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var (code, stdout, stderr) = await PathnbAsync(Root, args.ToArray());
        var run = NotebookRun.Load(outDir, Path.GetFileNameWithoutExtension(notebookPath), code, stdout + stderr);
        if (mustSucceed)
        {
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.DoesNotContain(run.Outputs, o => o["output_type"]!.GetValue<string>() == "error");
            Assert.True(File.Exists(Path.Combine(outDir, Path.GetFileNameWithoutExtension(notebookPath) + ".html")));
        }
        return run;
    }

    public static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "pathnb-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>What a notebook run left: its output folder, exit code and output, the executed notebook's cells.</summary>
public sealed record NotebookRun(string OutputDirectory, int ExitCode, string Log, System.Text.Json.Nodes.JsonArray Cells)
{
    /// <summary>Reads the executed notebook <c>NAME.ipynb</c> of a run's output folder.</summary>
    public static NotebookRun Load(string outDir, string name, int exitCode, string log)
    {
        var path = Path.Combine(outDir, name + ".ipynb");
        Assert.True(File.Exists(path), $"no executed notebook at {path}; exit {exitCode}\n{log}");
        var executed = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        return new NotebookRun(outDir, exitCode, log, (System.Text.Json.Nodes.JsonArray)executed["cells"]!);
    }

    /// <summary>All outputs of all cells, in order.</summary>
    public IReadOnlyList<System.Text.Json.Nodes.JsonNode> Outputs =>
        Cells.SelectMany(c => c!["outputs"] as System.Text.Json.Nodes.JsonArray ?? new System.Text.Json.Nodes.JsonArray()).Select(o => o!).ToList();

    /// <summary>The outputs of cell <paramref name="number"/> (1-based, markdown cells included).</summary>
    public System.Text.Json.Nodes.JsonArray OutputsOf(int number) => (System.Text.Json.Nodes.JsonArray)Cells[number - 1]!["outputs"]!;

    /// <summary>Charts the kernel displayed through Plotly.NET.Interactive's formatter.</summary>
    public int Charts => Outputs.Count(o => IsChart(o));

    /// <summary>Whether an output is a Plotly.NET chart as the Plotly.NET.Interactive formatter renders it.</summary>
    public static bool IsChart(System.Text.Json.Nodes.JsonNode output) => Text(output["data"]?["text/html"]).Contains("renderPlotly", StringComparison.Ordinal);

    /// <summary>The text of an nbformat multi-line string (a string or an array of lines).</summary>
    public static string Text(System.Text.Json.Nodes.JsonNode? lines) =>
        lines is System.Text.Json.Nodes.JsonArray a ? string.Concat(a.Select(l => l!.GetValue<string>())) : lines?.GetValue<string>() ?? "";

    /// <summary>The run's run.json.</summary>
    public System.Text.Json.Nodes.JsonNode RunJson => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(OutputDirectory, "run.json")))!;

    /// <summary>The data rows of a CSV table the notebook saved, split into fields (quoted fields may hold commas).</summary>
    public IReadOnlyList<string[]> Table(string name, string expectedHeaderStart)
    {
        var lines = File.ReadAllLines(Path.Combine(OutputDirectory, name + ".csv"));
        Assert.StartsWith(expectedHeaderStart, lines[0]);
        return lines.Skip(1).Select(Fields).ToList();
    }

    /// <summary>One CSV line's fields: commas inside double quotes do not split, and a doubled quote is a quote.</summary>
    public static string[] Fields(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields.ToArray();
    }

    public static double Number(string s) => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
}
