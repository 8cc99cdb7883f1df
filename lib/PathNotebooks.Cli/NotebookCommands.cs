using System.Globalization;
using PathNotebooks.Notebooks;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb notebook run`, as parsed (named apart from the runner's own <see cref="NotebookRunOptions"/>).</summary>
/// <param name="Out">Results folder; for one notebook the folder itself, for several the parent of one folder each.</param>
sealed record NotebookRunRequest(IReadOnlyList<string> Notebooks, string? Size, string? Device, string? Out, TimeSpan CellTimeout);

/// <summary>Options of `pathnb notebook check`.</summary>
sealed record NotebookCheckOptions(IReadOnlyList<string> Notebooks);

/// <summary>`pathnb notebook run`: executes notebooks with the kit's runner (no .NET Interactive kernel).</summary>
static class NotebookRunCommand
{
    /// <summary>Environment variable that makes a child print `@progress CELL CELLS FINISHED(0|1) SECONDS` lines.</summary>
    public const string ProgressVariable = "PATHNB_PROGRESS";

    public static async Task<int> RunAsync(NotebookRunRequest options)
    {
        if (!ParentDeath.TerminateWithParent()) return 143;   // our parent died before we could ask to follow it
        return options.Notebooks.Count == 1 ? await RunOneAsync(options) : await RunEachInAChildAsync(options);
    }

    /// <summary>The child-process arguments that run one notebook (the protocol `reproduce` relies on).</summary>
    public static List<string> ChildArguments(string notebook, string outDir, string? size, string? device, string? cellTimeoutSeconds)
    {
        var args = new List<string> { "notebook", "run", notebook, "--out", outDir };
        if (size != null) args.AddRange(["--size", size]);
        if (device != null) args.AddRange(["--device", device]);
        if (cellTimeoutSeconds != null) args.AddRange(["--cell-timeout", cellTimeoutSeconds]);
        return args;
    }

    // Several notebooks: one process each (script assemblies and libtorch state cannot be unloaded).
    static async Task<int> RunEachInAChildAsync(NotebookRunRequest options)
    {
        using var interruption = Interruption.Watch();
        var outRoot = options.Out ?? "results";
        int failures = 0;
        foreach (var nb in options.Notebooks)
        {
            var outDir = Path.Combine(outRoot, Path.GetFileNameWithoutExtension(nb));
            var timeout = options.CellTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture);
            var child = ChildStart.Self(ChildArguments(nb, outDir, options.Size, options.Device, timeout));
            try { failures += await ChildProcess.RunAsync(child, Console.WriteLine, interruption.Token) == 0 ? 0 : 1; }
            catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested) { return interruption.ExitCode; }
        }
        return failures == 0 ? 0 : 1;
    }

    static async Task<int> RunOneAsync(NotebookRunRequest options)
    {
        var nbPath = options.Notebooks[0];
        var outFolder = options.Out ?? Path.Combine("results", Path.GetFileNameWithoutExtension(nbPath));
        TorchRuntime.Initialize(options.Device);
        bool progressLines = Environment.GetEnvironmentVariable(ProgressVariable) == "1";
        var result = await NotebookRunner.RunAsync(nbPath, new NotebookRunOptions
        {
            OutputDirectory = outFolder, Size = options.Size, Device = options.Device, CellTimeout = options.CellTimeout,
            Progress = p =>
            {
                if (progressLines) Console.WriteLine($"@progress {p.Cell} {p.Cells} {(p.Finished ? 1 : 0)} {p.Seconds.ToString("F1", CultureInfo.InvariantCulture)}");
            },
        });
        Console.WriteLine(result.Succeeded
            ? $"{Path.GetFileName(nbPath)}: ok in {result.Seconds:F1} s → {result.HtmlPage}"
            : $"{Path.GetFileName(nbPath)}: FAILED at cell {result.FailedCell}: {result.Error}\n  executed notebook: {result.ExecutedNotebook}");
        return result.Succeeded ? 0 : 1;
    }
}

/// <summary>`pathnb notebook check`: are the notebooks committable (Polyglot metadata, no outputs)?</summary>
static class NotebookCheckCommand
{
    public static int Run(NotebookCheckOptions options)
    {
        int bad = 0;
        foreach (var nb in options.Notebooks)
        {
            var problems = NotebookDocument.Load(nb).CommitProblems();
            Console.WriteLine(problems.Count == 0 ? $"{nb}: ok" : $"{nb}: {string.Join("; ", problems)}");
            if (problems.Count > 0) bad++;
        }
        return bad == 0 ? 0 : 1;
    }
}
