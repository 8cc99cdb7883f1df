namespace PathNotebooks.Training;

/// <summary>AdamW with linear warm-up then cosine decay to <see cref="FinalLrFraction"/> of the peak, gradient clipping.</summary>
public sealed record TrainOptions
{
    public required int Steps { get; init; }
    public double LearningRate { get; init; } = 3e-3;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.98;
    /// <summary>Warm-up steps (default: 5 % of <see cref="Steps"/>).</summary>
    public int? WarmupSteps { get; init; }
    public double FinalLrFraction { get; init; } = 0.1;
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Record (and report) the loss every this many steps.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>
    /// Use <see cref="FlatAdamW"/> (every parameter a view of one buffer: a few launches per step, no host synchronisation)
    /// instead of TorchSharp's per-parameter AdamW. Same update to rounding; worth it for small models on a GPU, where a step
    /// is bound by kernel launches. Off by default so earlier notebooks keep their exact numbers.
    /// </summary>
    public bool FlatOptimizer { get; init; }

    public double LearningRateAt(int step)
    {
        int warm = WarmupSteps ?? Math.Max(1, Steps / 20);
        if (step < warm) return LearningRate * (step + 1) / warm;
        double progress = Math.Clamp((double)(step - warm) / Math.Max(1, Steps - warm), 0, 1);
        return LearningRate * (FinalLrFraction + (1 - FinalLrFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
