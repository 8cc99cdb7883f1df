namespace PathNotebooks.Experiments;

/// <summary>Everything notebook 05's experiment measured: the trained models and every evaluation cell.</summary>
/// <param name="Runs">one per task × model × seed</param>
/// <param name="Points">one per evaluation cell × seed</param>
public sealed record HybridRecallResult(IReadOnlyList<HybridRun> Runs, IReadOnlyList<RecallPoint> Points);
