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
            try
            {
                int exit = await ChildProcess.RunAsync(child, Console.WriteLine, interruption.Token);
                // 0 and 1 are the runner's own verdicts (it prints a line for each); anything else is a crash.
                if (exit is not (0 or 1))
                    Console.WriteLine($"{Path.GetFileName(nb)}: FAILED: the notebook runner ended with exit code {exit}" +
                        (exit > 128 ? $" (signal {exit - 128})" : "") + $" before reporting; results, if any, are in {outDir}");
                failures += exit == 0 ? 0 : 1;
            }
            catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested) { return interruption.ExitCode; }
        }
        return failures == 0 ? 0 : 1;
    }
}
