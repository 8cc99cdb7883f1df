using PathNotebooks.Models;
using PathNotebooks.Tasks;

namespace PathNotebooks.Experiments;

/// <summary>
/// Sizes of notebook 03's two experiments. Full follows the PaTH paper's flip-flop setting (1 layer, d = 64, 2 heads,
/// sequences of 256 instruction/bit pairs; 2 000 steps — PaTH is at 0 % error by step ~250); tiny keeps the same models on shorter sequences and fewer
/// steps so that all runs finish in about a minute and a half on a 2-core CPU.
/// </summary>
public sealed record PathNotebookSettings : IExperimentSettings<PathNotebookSettings>
{
    public required FlipFlopOptions FlipFlop { get; init; }
    public required WordProblemOptions WordProblem { get; init; }
    /// <summary>The group of the word problem: S2 — parity, the smallest state-tracking problem. S3 and A5 did not learn
    /// for either model within a CPU budget, and S5 (d = 64, 1–2 layers, 2 000 steps) stayed at chance for both RoPE
    /// and PaTH on an H100, so both sizes use parity; full trains on longer sequences and tests out to 4×.</summary>
    public required PermutationGroup Group { get; init; }
    /// <summary>Model depths compared on the word problem.</summary>
    public required int[] WordProblemLayers { get; init; }

    public static PathNotebookSettings Tiny => new()
    {
        FlipFlop = new FlipFlopOptions { Steps = 120, BatchSize = 16, Pairs = 32, WarmupSteps = 12, EvalSequences = 128, LogEvery = 10 },
        WordProblem = new WordProblemOptions { Steps = 150, BatchSize = 32, Length = 16, EvalLengths = new[] { 4, 8, 16, 32, 64 }, EvalSequences = 128, LearningRate = 3e-3, LogEvery = 10 },
        Group = PermutationGroup.Symmetric(2),
        WordProblemLayers = new[] { 1 },
    };

    public static PathNotebookSettings Full => new()
    {
        FlipFlop = new FlipFlopOptions { Steps = 2000, BatchSize = 32, Pairs = 256, WarmupSteps = 200, EvalSequences = 512, LogEvery = 50 },
        WordProblem = new WordProblemOptions { Steps = 1500, BatchSize = 64, Length = 64, EvalLengths = new[] { 16, 32, 64, 128, 256 }, EvalSequences = 512, LearningRate = 3e-3, LogEvery = 50 },
        Group = PermutationGroup.Symmetric(2),
        WordProblemLayers = new[] { 1, 2 },
    };

    /// <summary>The word-problem model: d = 64, 4 heads, vocabulary = group order.</summary>
    public ModelConfig WordProblemConfig(PositionEncoding encoding, int layers) =>
        new() { VocabSize = Group.Order, DModel = 64, Heads = 4, Layers = layers, Mixers = PositionEncodings.Spec(encoding) };
}
