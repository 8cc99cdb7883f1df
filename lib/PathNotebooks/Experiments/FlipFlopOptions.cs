using PathNotebooks.Tasks;

namespace PathNotebooks.Experiments;

/// <summary>
/// Settings of a flip-flop run (defaults: the few-minute reproduction of docs/path.md, "Experiments").
/// </summary>
public sealed record FlipFlopOptions
{
    public int Steps { get; init; } = 3000;
    public int BatchSize { get; init; } = 32;
    /// <summary>(instruction, bit) pairs per sequence; the model sees 2·Pairs − 1 tokens.</summary>
    public int Pairs { get; init; } = 256;
    public double TrainIgnoreProbability { get; init; } = FlipFlop.InDistribution;
    public double LearningRate { get; init; } = 3e-3;
    public int? WarmupSteps { get; init; } = 200;
    /// <summary>Evaluation sequences per split (in batches of <see cref="BatchSize"/>).</summary>
    public int EvalSequences { get; init; } = 256;
    public int LogEvery { get; init; } = 50;
}
