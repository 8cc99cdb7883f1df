namespace PathNotebooks.Cli;

/// <summary>
/// Estimates the time left in a reproduce run from time, not cell counts: cells take wildly different times, so
/// "cell 3 of 10" says little. Where a notebook has a previous run.json, its remaining cells are expected to take
/// their previous times, scaled by how this run's finished cells compare with theirs; otherwise the estimate falls
/// back to this run's elapsed time.
/// </summary>
sealed class EtaEstimator(IReadOnlyList<RunHistory?> history)
{
    double actualSeconds, previousSeconds;   // finished cells with a history: this run's time and the last run's
    readonly List<double> finishedNotebookSeconds = new();

    /// <summary>This run compared with the previous one (2 = twice as slow), from cells both have timed.</summary>
    public double Speed => previousSeconds > 0.5 ? Math.Clamp(actualSeconds / previousSeconds, 0.1, 10) : 1;

    /// <summary>Notes that cell <paramref name="cell"/> of notebook <paramref name="notebook"/> took <paramref name="seconds"/>.</summary>
    public void CellFinished(int notebook, int cell, double seconds)
    {
        if (history[notebook]?.CellSeconds.TryGetValue(cell, out var before) != true) return;
        actualSeconds += seconds;
        previousSeconds += before;
    }

    /// <summary>Notes that a notebook ended, for estimating notebooks that have no history.</summary>
    public void NotebookFinished(double seconds) => finishedNotebookSeconds.Add(seconds);

    /// <summary>
    /// Time left: the running notebook <paramref name="notebook"/> is at <paramref name="cell"/> of <paramref name="cells"/>
    /// (0 before its first cell), which has run <paramref name="cellElapsed"/>; the notebook itself <paramref name="notebookElapsed"/>.
    /// Null when nothing is known yet.
    /// </summary>
    public TimeSpan? Remaining(int notebook, int cell, int cells, double cellElapsed, double notebookElapsed)
    {
        double? current = RemainingInCurrent(notebook, cell, cells, cellElapsed, notebookElapsed);
        if (current is not { } left) return null;
        for (int n = notebook + 1; n < history.Count; n++)
        {
            if (history[n] is { } h) left += h.WallSeconds * Speed;
            else if (finishedNotebookSeconds.Count > 0) left += finishedNotebookSeconds.Average();
            else return null;
        }
        return TimeSpan.FromSeconds(left);
    }

    double? RemainingInCurrent(int notebook, int cell, int cells, double cellElapsed, double notebookElapsed)
    {
        if (history[notebook] is { } h)
        {
            double left = h.CellSeconds.Where(c => c.Key > cell).Sum(c => c.Value) * Speed;
            if (h.CellSeconds.TryGetValue(cell, out var running)) left += Math.Max(0, running * Speed - cellElapsed);
            // Before the first cell the child is still starting (runtime, script compiler): the wall time not spent in cells.
            if (cell == 0) left += Math.Max(0, (h.WallSeconds - h.CellSeconds.Values.Sum()) * Speed - notebookElapsed);
            return left;
        }
        // No history: the cells so far took notebookElapsed; assume the rest go at the same pace per cell.
        if (cell <= 1 || cells <= 0) return null;
        double perCell = (notebookElapsed - cellElapsed) / (cell - 1);
        return Math.Max(0, perCell * (cells - cell + 1) - cellElapsed);
    }
}
