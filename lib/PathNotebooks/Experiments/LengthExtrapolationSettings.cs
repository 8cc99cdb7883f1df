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

    /// <summary>Sizes that finish within about a minute on a 2-core CPU (three models).</summary>
    public static LengthExtrapolationSettings Tiny => new() { Task = new LagCopyTask(), TrainLength = 48, Steps = 250, BatchSize = 32 };
    /// <summary>The GPU experiment: longer training sequences, more steps and a wider model.</summary>
    public static LengthExtrapolationSettings Full => new()
    { Task = new LagCopyTask(VocabSize: 32, Lag: 16), TrainLength = 256, Steps = 1500, BatchSize = 64, DModel = 128, Layers = 2, Heads = 4, EvalBatches = 16 };
}
