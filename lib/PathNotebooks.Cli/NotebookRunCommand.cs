namespace PathNotebooks.Cli;

/// <summary>`pathnb notebook run`: executes notebooks in the .NET Interactive C# kernel, one runner process each.</summary>
static class NotebookRunCommand
{
    public static async Task<int> RunAsync(NotebookRunRequest options)
    {
        using var interruption = Interruption.Watch();
        int failures = 0;
        foreach (var nb in options.Notebooks)
        {
            var outDir = options.Notebooks.Count == 1 && options.Out != null
                ? options.Out
                : Path.Combine(options.Out ?? "results", Path.GetFileNameWithoutExtension(nb));
            var child = NotebookRunner.Run(nb, outDir, options.Size, options.Device, options.CellTimeout.TotalSeconds, options.PackagesFrom, progress: false);
            try { failures += await ChildProcess.RunAsync(child, Console.WriteLine, interruption.Token) == 0 ? 0 : 1; }
            catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested) { return interruption.ExitCode; }
        }
        return failures == 0 ? 0 : 1;
    }
}
