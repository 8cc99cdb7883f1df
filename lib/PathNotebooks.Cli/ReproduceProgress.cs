using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace PathNotebooks.Cli;

/// <summary>
/// Shows how a reproduce run is going. On a terminal: a live status line with the running notebook, cell k/n, the
/// running cell's elapsed time ticking every half second and a time-based ETA. Redirected (CI logs): one plain line
/// when each notebook starts, no control characters.
/// </summary>
abstract class ReproduceProgress
{
    protected readonly IReadOnlyList<string> Names;
    protected readonly EtaEstimator Eta;
    readonly object gate = new();
    int notebook, cell, cells;
    readonly Stopwatch notebookClock = new(), cellClock = new();
    readonly Stopwatch totalClock = Stopwatch.StartNew();
    double cellStartSeconds;

    protected ReproduceProgress(IReadOnlyList<string> names, IReadOnlyList<RunHistory?> history)
    {
        Names = names;
        Eta = new EtaEstimator(history);
    }

    /// <summary>The live display on a terminal, plain lines otherwise.</summary>
    public static ReproduceProgress Create(IReadOnlyList<string> names, IReadOnlyList<RunHistory?> history) =>
        Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive
            ? new PlainProgress(names, history)
            : new LiveProgress(names, history);

    /// <summary>Runs notebook <paramref name="index"/> by <paramref name="work"/> while showing its progress.</summary>
    public async Task<T> RunNotebookAsync<T>(int index, Func<Task<T>> work)
    {
        lock (gate)
        {
            (notebook, cell, cells, cellStartSeconds) = (index, 0, 0, 0);
            notebookClock.Restart();
            cellClock.Reset();
        }
        try { return await ShowWhileAsync(index, work); }
        finally { lock (gate) Eta.NotebookFinished(notebookClock.Elapsed.TotalSeconds); }
    }

    /// <summary>Takes one `@progress CELL CELLS FINISHED SECONDS` report of the running child (any thread).</summary>
    public void Report(int cellNumber, int cellCount, bool finished, double notebookSeconds)
    {
        lock (gate)
        {
            (cell, cells) = (cellNumber, cellCount);
            if (finished) { Eta.CellFinished(notebook, cellNumber, notebookSeconds - cellStartSeconds); cellClock.Reset(); }
            else { cellStartSeconds = notebookSeconds; cellClock.Restart(); }
        }
    }

    protected abstract Task<T> ShowWhileAsync<T>(int index, Func<Task<T>> work);

    /// <summary>"[2/5] 03-name  cell 4/12 running 37s  notebook 1:12  total 5:03  ETA ~3:40" (no markup).</summary>
    protected string Describe()
    {
        lock (gate)
        {
            var head = $"[{notebook + 1}/{Names.Count}] {Names[notebook]}";
            var cellText = cell == 0 ? "starting" : cellClock.IsRunning ? $"cell {cell}/{cells} running {Clock(cellClock.Elapsed)}" : $"cell {cell}/{cells} done";
            var eta = Eta.Remaining(notebook, cell, cells, cellClock.Elapsed.TotalSeconds, notebookClock.Elapsed.TotalSeconds);
            return $"{head}  {cellText}  notebook {Clock(notebookClock.Elapsed)}  total {Clock(totalClock.Elapsed)}" +
                   (eta is { } e ? $"  ETA ~{Clock(e)}" : "");
        }
    }

    /// <summary>Short clock text: 37s, 1:12, 1:02:03.</summary>
    protected static string Clock(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : t.TotalMinutes >= 1 ? t.ToString(@"m\:ss", CultureInfo.InvariantCulture)
        : $"{t.TotalSeconds:F0}s";

    /// <summary>A Spectre.Console status line, redrawn twice a second so the running cell's time keeps ticking.</summary>
    sealed class LiveProgress(IReadOnlyList<string> names, IReadOnlyList<RunHistory?> history) : ReproduceProgress(names, history)
    {
        protected override Task<T> ShowWhileAsync<T>(int index, Func<Task<T>> work) =>
            AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync(Markup.Escape(Describe()), async status =>
            {
                var task = work();
                while (await Task.WhenAny(task, Task.Delay(500)) != task)
                {
                    status.Status(Markup.Escape(Describe()));
                    status.Refresh();
                }
                return await task;
            });
    }

    /// <summary>One line per notebook start for logs; the caller prints the finish line.</summary>
    sealed class PlainProgress(IReadOnlyList<string> names, IReadOnlyList<RunHistory?> history) : ReproduceProgress(names, history)
    {
        protected override Task<T> ShowWhileAsync<T>(int index, Func<Task<T>> work)
        {
            var eta = Eta.Remaining(index, 0, 0, 0, 0);
            Console.WriteLine($"[{index + 1}/{Names.Count}] {Names[index]}: started{(eta is { } e ? $", ETA ~{Clock(e)}" : "")}");
            return work();
        }
    }
}
