using PathNotebooks.Models;

namespace PathNotebooks.Experiments;

/// <summary>Settings of the per-position-loss experiment of notebook 04 (FoX, PaTH, PaTH-FoX vs RoPE on text).</summary>
public sealed record FoxExperimentSettings : IExperimentSettings<FoxExperimentSettings>
{
    /// <summary>Training length L (tokens per training window).</summary>
    public int TrainLength { get; init; } = 64;
    /// <summary>Evaluation windows are this many times L long.</summary>
    public int EvalMultiple { get; init; } = 4;
    public int BatchSize { get; init; } = 16;
    public int Steps { get; init; } = 200;
    /// <summary>Number of fixed validation windows of length EvalMultiple·L (+1 for the last target).</summary>
    public int EvalSequences { get; init; } = 32;
    /// <summary>Evaluation windows per forward pass (bounds memory at long lengths).</summary>
    public int EvalBatch { get; init; } = 16;
    public double LearningRate { get; init; } = 3e-3;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    public int PathChunkSize { get; init; } = 64;
    /// <summary>The models to train, in this order.</summary>
    public PositionEncoding[] Encodings { get; init; } =
        { PositionEncoding.RoPE, PositionEncoding.FoX, PositionEncoding.PaTH, PositionEncoding.PaTHFoX };

    /// <summary>Evaluation length EvalMultiple · L.</summary>
    public int EvalLength => EvalMultiple * TrainLength;

    /// <summary>Four byte-level models in about a minute on a 2-core CPU.</summary>
    public static FoxExperimentSettings Tiny => new()
    { TrainLength = 64, Steps = 150, BatchSize = 16, DModel = 64, Layers = 2, Heads = 2, EvalSequences = 16, PathChunkSize = 32 };

    /// <summary>The GPU experiment (a few minutes on one H100 for all four models).</summary>
    public static FoxExperimentSettings Full => new()
    {
        TrainLength = 256, Steps = 800, BatchSize = 32, DModel = 256, Layers = 4, Heads = 4, EvalSequences = 64,
        EvalBatch = 16, LearningRate = 2e-3, PathChunkSize = 64,
    };

    /// <summary>Checks the numbers; throws naming the field.</summary>
    public FoxExperimentSettings Validate()
    {
        if (TrainLength < 2) throw new ArgumentOutOfRangeException(nameof(TrainLength), TrainLength, "TrainLength must be ≥ 2.");
        if (EvalMultiple < 1) throw new ArgumentOutOfRangeException(nameof(EvalMultiple), EvalMultiple, "EvalMultiple must be ≥ 1.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be ≥ 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 1.");
        if (EvalSequences < 1) throw new ArgumentOutOfRangeException(nameof(EvalSequences), EvalSequences, "EvalSequences must be ≥ 1.");
        if (EvalBatch < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatch), EvalBatch, "EvalBatch must be ≥ 1.");
        if (Encodings is null || Encodings.Length == 0) throw new ArgumentException("Encodings must name at least one model.", nameof(Encodings));
        return this;
    }
}
