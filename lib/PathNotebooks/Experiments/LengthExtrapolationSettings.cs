namespace PathNotebooks.Experiments;

/// <summary>Settings of the length-extrapolation experiment (notebook 01).</summary>
public sealed record LengthExtrapolationSettings : IExperimentSettings<LengthExtrapolationSettings>
{
    public required LagCopyTask Task { get; init; }
    public int TrainLength { get; init; } = 64;
    public int[] EvalMultiples { get; init; } = { 1, 2, 4 };
    public int BatchSize { get; init; } = 32;
    public int Steps { get; init; } = 300;
    public int EvalBatches { get; init; } = 4;
    public double LearningRate { get; init; } = 3e-3;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    /// <summary>Independent repeats of every model (seed index s = 0 … Seeds − 1: its own initial weights, training
    /// batches and evaluation sequences); the summary table reports the mean and the min–max over them.</summary>
    public int Seeds { get; init; } = 1;
    /// <summary>Sequences of the longest evaluation length on which the attention probabilities are read.</summary>
    public int AttentionBatch { get; init; } = 8;

    /// <summary>Sizes that finish within about a minute on a 2-core CPU (three models).</summary>
    public static LengthExtrapolationSettings Tiny => new() { Task = new LagCopyTask(), TrainLength = 48, Steps = 250, BatchSize = 32, Seeds = 1 };
    /// <summary>The GPU experiment: longer training sequences, more steps, a wider model and three seeds.</summary>
    public static LengthExtrapolationSettings Full => new()
    {
        Task = new LagCopyTask(VocabSize: 32, Lag: 16), TrainLength = 256, Steps = 1200, BatchSize = 64, DModel = 128, Layers = 2, Heads = 4,
        EvalBatches = 16, Seeds = 3, AttentionBatch = 4,
    };
}
