namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb notebook check`.</summary>
sealed record NotebookCheckOptions(IReadOnlyList<string> Notebooks);

/// <summary>`pathnb notebook check`: are the notebooks committable (Polyglot metadata, no outputs)?</summary>
static class NotebookCheckCommand
{
    public static async Task<int> RunAsync(NotebookCheckOptions options) =>
        await ChildProcess.RunAsync(NotebookRunner.Check(options.Notebooks), Console.WriteLine);
}
