using PathNotebooks.Models;
using PathNotebooks.Tasks;

namespace PathNotebooks.Experiments;

/// <summary>
/// Sizes of notebook 03's two experiments. Full follows the PaTH paper's flip-flop setting (1 layer, d = 64, 2 heads,
/// sequences of 256 instruction/bit pairs) with <see cref="Seeds"/> = 3 seeds per model and shorter training than a
/// single-seed run (650 flip-flop steps, 1 000 word-problem steps) so that the notebook stays within a few minutes on
/// one GPU; tiny keeps the same models on shorter sequences, fewer steps and one seed (well under a minute on a
/// 2-core CPU).
/// </summary>
public sealed record PathNotebookSettings : IExperimentSettings<PathNotebookSettings>
{
    /// <summary>Flip-flop task, training and evaluation settings.</summary>
    public required FlipFlopOptions FlipFlop { get; init; }
    /// <summary>Word-problem task, training and evaluation settings.</summary>
    public required WordProblemOptions WordProblem { get; init; }
    /// <summary>The group of the word problem: S2 — parity, the smallest state-tracking problem. S3 and A5 did not learn
    /// for either model within a CPU budget, and S5 (d = 64, 1–2 layers, 2 000 steps) stayed at chance for both RoPE
    /// and PaTH on an H100, so both sizes use parity; full trains on longer sequences and tests out to 4×.</summary>
    public required PermutationGroup Group { get; init; }
    /// <summary>Model depths compared on the word problem.</summary>
    public required int[] WordProblemLayers { get; init; }
    /// <summary>Independently seeded runs per model (seed index s: model init and training batches, see
    /// <see cref="PathExperiments.SeedStride"/>; the evaluation sets are the same for every seed).</summary>
    public required int Seeds { get; init; }

    public static PathNotebookSettings Tiny => new()
    {
        FlipFlop = new FlipFlopOptions { Steps = 120, BatchSize = 16, Pairs = 32, WarmupSteps = 12, EvalSequences = 128, LogEvery = 10 },
        WordProblem = new WordProblemOptions { Steps = 150, BatchSize = 32, Length = 16, EvalLengths = new[] { 4, 8, 16, 32, 64 }, EvalSequences = 128, LearningRate = 3e-3, LogEvery = 10 },
        Group = PermutationGroup.Symmetric(2),
        WordProblemLayers = new[] { 1 },
        Seeds = 1,
    };

    public static PathNotebookSettings Full => new()
    {
        FlipFlop = new FlipFlopOptions { Steps = 650, BatchSize = 32, Pairs = 256, WarmupSteps = 65, EvalSequences = 512, LogEvery = 25 },
        WordProblem = new WordProblemOptions { Steps = 1000, BatchSize = 64, Length = 64, EvalLengths = new[] { 16, 32, 64, 128, 256 }, EvalSequences = 512, LearningRate = 3e-3, LogEvery = 25 },
        Group = PermutationGroup.Symmetric(2),
        WordProblemLayers = new[] { 1 },
        Seeds = 3,
    };

    /// <summary>The word-problem model: d = 64, 4 heads, vocabulary = group order.</summary>
    public ModelConfig WordProblemConfig(PositionEncoding encoding, int layers) =>
        new() { VocabSize = Group.Order, DModel = 64, Heads = 4, Layers = layers, Mixers = PositionEncodings.Spec(encoding) };
}
