using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>Outcome of one word-problem run (seed index <paramref name="Seed"/>).</summary>
/// <param name="Model">the mixer's name (the notebook appends the depth)</param>
/// <param name="Group">the group's name</param>
/// <param name="Parameters">trainable parameters</param>
/// <param name="Accuracy">token, sequence and final-position accuracy per evaluation length</param>
/// <param name="MsPerStep">training wall time per step</param>
/// <param name="History">logged training points</param>
/// <param name="Seed">seed index (0, 1, …): model init and training batches, see <see cref="PathExperiments.SeedStride"/></param>
public sealed record WordProblemResult(string Model, string Group, long Parameters, IReadOnlyList<LengthAccuracy> Accuracy,
    double MsPerStep, IReadOnlyList<TrainPoint> History, int Seed = 0);
