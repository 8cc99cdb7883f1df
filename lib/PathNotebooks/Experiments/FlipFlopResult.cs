using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>Outcome of one flip-flop run: read error per split (fraction, 0 … 1).</summary>
public sealed record FlipFlopResult(string Model, long Parameters, double ErrorInDistribution, double ErrorSparseOod,
    double ErrorDenseOod, double MsPerStep, IReadOnlyList<TrainPoint> History);
