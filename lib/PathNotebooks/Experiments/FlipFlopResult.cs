using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>Outcome of one flip-flop run: read error per split (fraction, 0 … 1) of the model trained with seed index
/// <paramref name="Seed"/>.</summary>
/// <param name="Model">the mixer's name</param>
/// <param name="Parameters">trainable parameters</param>
/// <param name="ErrorInDistribution">read error at p(i) = 0.8</param>
/// <param name="ErrorSparseOod">read error at p(i) = 0.98</param>
/// <param name="ErrorDenseOod">read error at p(i) = 0.1</param>
/// <param name="MsPerStep">training wall time per step</param>
/// <param name="History">logged training points</param>
/// <param name="Seed">seed index (0, 1, …): model init and training batches, see <see cref="PathExperiments.SeedStride"/></param>
public sealed record FlipFlopResult(string Model, long Parameters, double ErrorInDistribution, double ErrorSparseOod,
    double ErrorDenseOod, double MsPerStep, IReadOnlyList<TrainPoint> History, int Seed = 0);
