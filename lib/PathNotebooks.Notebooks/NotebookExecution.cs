using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using PathNotebooks.IO;

namespace PathNotebooks.Notebooks;

/// <summary>How to run one notebook.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>Folder for the executed notebook, its HTML page, run.json and the result tables the notebook saves.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>"tiny" or "full"; null = the kit's default for the device (tiny on CPU, full on CUDA).</summary>
    public string? Size { get; init; }
    /// <summary>"auto", "cpu" or "cuda"; null = auto.</summary>
    public string? Device { get; init; }
    /// <summary>Longest time one cell may run before the notebook is stopped.</summary>
    public TimeSpan CellTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>How the notebook's <c>#r "nuget: …"</c> lines are served (see <see cref="PackageSource"/>).</summary>
    public PackageSource Packages { get; init; } = PackageSource.NuGet();
    /// <summary>Called when a cell starts and when it finishes.</summary>
    public Action<NotebookProgress>? Progress { get; init; }
}

/// <summary>Cell <see cref="Cell"/> (1-based, counting markdown cells) of <see cref="Cells"/> started or finished.</summary>
public sealed record NotebookProgress(string Notebook, int Cell, int Cells, bool Finished, double Seconds);

/// <summary>Wall time and outcome of one executed code cell.</summary>
public sealed record CellTiming(int Cell, double Seconds, bool Succeeded);

/// <summary>What a run produced.</summary>
public sealed record NotebookRunResult(
    string Notebook, bool Succeeded, int? FailedCell, string? Error, IReadOnlyList<CellTiming> Cells,
    string ExecutedNotebook, string HtmlPage, string RunJson, double Seconds);

/// <summary>
/// Runs the code cells of a Polyglot .ipynb in order in one <see cref="KernelSession"/> (the real .NET Interactive C#
/// kernel), stops at the first failing cell, and writes the executed notebook (.ipynb with outputs), an offline HTML
/// page and run.json into the output folder. The notebook is read and written with Microsoft.DotNet.Interactive.Documents.
/// </summary>
public static class NotebookExecution
{
    /// <summary>Kernel names the .ipynb files of the kit use, as the Polyglot extension writes them.</summary>
    public static KernelInfoCollection KernelInfos { get; } = new()
    {
        new KernelInfo("csharp", "C#", new[] { "c#", "C#" }),
        new KernelInfo("markdown", "Markdown", new[] { "md" }),
    };

    public static async Task<NotebookRunResult> RunAsync(string notebookPath, NotebookRunOptions options)
    {
        notebookPath = Path.GetFullPath(notebookPath);
        if (!File.Exists(notebookPath)) throw new FileNotFoundException($"notebook not found: {notebookPath}", notebookPath);
        var outDir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        var name = Path.GetFileNameWithoutExtension(notebookPath);
        var document = Notebook.Parse(await File.ReadAllTextAsync(notebookPath), KernelInfos);
        foreach (var element in document.Elements) { element.Outputs.Clear(); element.ExecutionOrder = 0; }

        // What the kit reads inside the notebook: device, size and where its tables go. Relative `#r` paths in the
        // notebook resolve against the notebook's folder, as in VS Code and Jupyter.
        if (options.Device != null) Environment.SetEnvironmentVariable("PATHNB_DEVICE", options.Device);
        if (options.Size != null) Environment.SetEnvironmentVariable("PATHNB_SIZE", options.Size);
        Environment.SetEnvironmentVariable("PATHNB_OUT", outDir);
        Directory.SetCurrentDirectory(Path.GetDirectoryName(notebookPath)!);

        var timings = new List<CellTiming>();
        var clock = Stopwatch.StartNew();
        int? failedCell = null;
        string? error = null;
        int executionCount = 0;
        string? runtimeLine = null;
        JsonObject? kitFacts = null;
        var cellOutputs = new Dictionary<int, CellOutputs>();                   // element index → outputs, for the page
        // A cell that timed out may still be running (native torch code on a kernel thread): such a kernel is neither
        // asked for the kit's facts (it would queue behind the cell) nor disposed (tearing it down under running native
        // code can crash the process before the results are written); the runner process exits right after.
        bool kernelBusy = false;
        var session = new KernelSession();
        try
        {
            for (int i = 0; i < document.Elements.Count && failedCell == null; i++)
            {
                var cell = document.Elements[i];
                int number = i + 1;
                if (cell.KernelName == "markdown" || string.IsNullOrWhiteSpace(cell.Contents)) continue;
                options.Progress?.Invoke(new NotebookProgress(name, number, document.Elements.Count, false, clock.Elapsed.TotalSeconds));
                var cellClock = Stopwatch.StartNew();
                var outputs = cellOutputs[i] = new CellOutputs();
                bool ok;
                try
                {
                    if (cell.KernelName is not "csharp")
                        throw new CellFailure($"cell {number} is a '{cell.KernelName}' cell; the kit's notebooks are C# only.");
                    PreparedCell prepared;
                    try { prepared = options.Packages.Prepare(cell.Contents, number); }
                    catch (InvalidOperationException e) { throw new CellFailure(e.Message); }
                    session.LoadExtensionsAfterNextSubmission(prepared.ExtensionAssemblies);
                    using var timeout = new CancellationTokenSource();
                    var submission = session.SubmitAsync(prepared.Code, null, timeout.Token);
                    if (await Task.WhenAny(submission, Task.Delay(options.CellTimeout)) != submission)
                    {
                        kernelBusy = true;
                        timeout.Cancel();
                        throw new CellFailure($"cell {number} did not finish within its timeout of {options.CellTimeout.TotalSeconds:F0} s.");
                    }
                    var events = await submission;
                    foreach (var e in events.Events) outputs.Add(e);
                    ok = events.Succeeded;
                    if (!ok) error = $"cell {number}: {outputs.FailureMessage}";
                }
                catch (CellFailure e)
                {
                    ok = false;
                    error = e.Message;
                    outputs.AddError("CellFailure", e.Message);
                }
                runtimeLine ??= outputs.Text.Split('\n').FirstOrDefault(l => l.StartsWith("pathnb runtime:", StringComparison.Ordinal));
                cell.ExecutionOrder = ++executionCount;
                cell.Outputs.AddRange(outputs.Elements(executionCount));
                timings.Add(new CellTiming(number, cellClock.Elapsed.TotalSeconds, ok));
                if (!ok) failedCell = number;
                options.Progress?.Invoke(new NotebookProgress(name, number, document.Elements.Count, true, clock.Elapsed.TotalSeconds));
            }
            if (!kernelBusy) kitFacts = await KitFactsAsync(session);
        }
        finally
        {
            if (!kernelBusy) session.Dispose();
        }

        var size = options.Size ?? Environment.GetEnvironmentVariable("PATHNB_SIZE") ?? "default";
        var run = new RunRecord(name, failedCell, error, size, options.Device ?? "auto", runtimeLine, options.Packages.Description, timings, clock.Elapsed.TotalSeconds, kitFacts);
        var ipynb = AtomicFile.WriteText(Path.Combine(outDir, name + ".ipynb"), document.ToJupyterJson());
        var html = AtomicFile.WriteText(Path.Combine(outDir, name + ".html"), HtmlPage.Render(document, cellOutputs, name, run.Subtitle(), failedCell));
        var runJson = AtomicFile.WriteText(Path.Combine(outDir, "run.json"), run.ToJson());
        return new NotebookRunResult(notebookPath, failedCell == null, failedCell, error, timings, ipynb, html, runJson, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Asks the kit loaded in the kernel what it ran on (null when the notebook did not load the kit).</summary>
    static async Task<JsonObject?> KitFactsAsync(KernelSession session)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var result = await session.SubmitAsync("PathNotebooks.Experiments.Kit.RunFacts()", null, timeout.Token);
        var value = result.Events.OfType<ReturnValueProduced>().FirstOrDefault()?.Value as string;
        return result.Succeeded && value != null ? JsonNode.Parse(value) as JsonObject : null;
    }

    /// <summary>A failure the runner itself reports (timeout, unsupported cell), shown as the cell's error output.</summary>
    sealed class CellFailure(string message) : Exception(message);
}
