using PathNotebooks.Tasks;

namespace PathNotebooks.Experiments;

/// <summary>Settings of a word-problem run.</summary>
public sealed record WordProblemOptions
{
    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 32;
    /// <summary>Training sequence length.</summary>
    public int Length { get; init; } = 32;
    /// <summary>Evaluation lengths (prefixes of one long evaluation batch; may exceed <see cref="Length"/>).</summary>
    public IReadOnlyList<int> EvalLengths { get; init; } = new[] { 8, 16, 32, 64 };
    public int EvalSequences { get; init; } = 256;
    public double LearningRate { get; init; } = 1e-3;
    public int LogEvery { get; init; } = 50;
    /// <summary>Element ids the words are drawn from (null = all elements; e.g. <see cref="PermutationGroup.ThreeCycleGenerators"/>).</summary>
    public IReadOnlyList<int>? Alphabet { get; init; }
}
