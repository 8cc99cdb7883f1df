using PathNotebooks.Data;
using PathNotebooks.Models;

namespace PathNotebooks.Experiments;

/// <summary>Settings of the positional-vector experiment (notebook 02, Dong et al. 2024).</summary>
public sealed record PositionalVectorsSettings : IExperimentSettings<PositionalVectorsSettings>
{
    /// <summary>Training context length C (byte tokens).</summary>
    public int TrainLength { get; init; } = 32;
    /// <summary>Evaluation goes out to this multiple of C (perplexity and positional vectors beyond the window).</summary>
    public int EvalMultiple { get; init; } = 4;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 3;
    public int Heads { get; init; } = 2;
    /// <summary>Sliding window W of the window-attention NoPE model.</summary>
    public int Window { get; init; } = 8;
    public int Steps { get; init; } = 500;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Training-split sequences of length C averaged for the positional vectors p[l, t] (the validation split is too small for the full size).</summary>
    public int DecompositionSequences { get; init; } = 256;
    /// <summary>Validation sequences of length EvalMultiple·C (perplexity, and positional vectors beyond C).</summary>
    public int EvalSequences { get; init; } = 64;
    /// <summary>Sequences per forward pass at evaluation (positional-vector replacement estimates p from this batch).</summary>
    public int EvalBatchSize { get; init; } = 16;
    /// <summary>First tokens treated as anchors: kept by the replacement, removed in the sink ablation.</summary>
    public int AnchorTokens { get; init; } = 4;
    /// <summary>Layers ℓ at which positional-vector replacement is tried (0 = embeddings; the paper's best: ℓ = 4 of 22).</summary>
    public int[] ReplacementLayers { get; init; } = { 1, 2 };
    /// <summary>Interpolation ratio r of the replacement (r·C positions covered).</summary>
    public double ReplacementRatio { get; init; } = 4;
    /// <summary>Scale α of the inserted positional vectors.</summary>
    public double ReplacementAlpha { get; init; } = 1.0;
    /// <summary>Window multiplier r of the attention-window extension.</summary>
    public double WindowRatio { get; init; } = 4;
    /// <summary>Logit scales λ tried with the window extension (and, λ ≠ 1, as attention scaling for full-attention NoPE).</summary>
    public double[] LogitScales { get; init; } = { 1.0, 1.2, 1.5 };
    /// <summary>Training seeds: every model is trained once per seed (seed s uses model-initialisation and corpus-window
    /// streams offset by s × the number of models), so the table reports a spread over seeds. The analyses use seed 0.</summary>
    public int Seeds { get; init; } = 1;

    /// <summary>Four models in about a minute on a 2-core CPU: C = 32, 3 layers, d = 64, W = 8, 500 steps of 16 × 32 tokens.</summary>
    public static PositionalVectorsSettings Tiny => new();

    /// <summary>The GPU experiment: C = 256, 4 layers, d = 256, 8 heads, W = 64, 3 seeds × 4 models × 330 steps of 32 × 256
    /// tokens. One seed of 1 000 steps took 112 s on an H200 (training ≈ 85 % of it, launch-bound: time ∝ steps × models), so three
    /// seeds at a third of the steps keep the training time of that run.</summary>
    public static PositionalVectorsSettings Full => new()
    {
        TrainLength = 256, DModel = 256, Layers = 4, Heads = 8, Window = 64, Steps = 330, BatchSize = 32, LearningRate = 1e-3,
        DecompositionSequences = 1024, EvalSequences = 128, EvalBatchSize = 32, ReplacementLayers = new[] { 1, 2, 3 }, Seeds = 3,
    };

    /// <summary>The model configurations trained: NoPE, RoPE, ALiBi and window-attention NoPE (W = <see cref="Window"/>).</summary>
    public IReadOnlyList<(string Name, ModelConfig Config)> Models()
    {
        var baseConfig = new ModelConfig { VocabSize = TextCorpus.VocabSize, DModel = DModel, Layers = Layers, Heads = Heads };
        return new[]
        {
            ("NoPE", baseConfig with { Mixers = PositionEncodings.Spec(PositionEncoding.NoPE) }),
            ("RoPE", baseConfig with { Mixers = PositionEncodings.Spec(PositionEncoding.RoPE) }),
            ("ALiBi", baseConfig with { Mixers = PositionEncodings.Spec(PositionEncoding.ALiBi) }),
            ($"NoPE-window{Window}", baseConfig with { Mixers = new Softmax.SoftmaxAttentionSpec { Position = Softmax.AttentionPosition.NoPE, Window = Window } }),
        };
    }

    /// <summary>Checks the numbers fit together; throws naming the field.</summary>
    public PositionalVectorsSettings Validate()
    {
        if (TrainLength < 2) throw new ArgumentOutOfRangeException(nameof(TrainLength), TrainLength, "TrainLength must be ≥ 2.");
        if (EvalMultiple < 2) throw new ArgumentOutOfRangeException(nameof(EvalMultiple), EvalMultiple, "EvalMultiple must be ≥ 2 (evaluation goes beyond C).");
        if (Seeds < 1) throw new ArgumentOutOfRangeException(nameof(Seeds), Seeds, "Seeds must be ≥ 1.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be ≥ 1.");
        if (Window < 1 || Window >= TrainLength) throw new ArgumentOutOfRangeException(nameof(Window), Window, $"Window must be in 1…C−1 = {TrainLength - 1}.");
        if (AnchorTokens < 1 || AnchorTokens >= TrainLength) throw new ArgumentOutOfRangeException(nameof(AnchorTokens), AnchorTokens, "AnchorTokens must be in 1…C−1.");
        if (EvalBatchSize < 2) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, "EvalBatchSize must be ≥ 2 (replacement estimates p from the batch).");
        if (ReplacementLayers.Any(l => l < 0 || l > Layers)) throw new ArgumentOutOfRangeException(nameof(ReplacementLayers), string.Join(",", ReplacementLayers), $"ReplacementLayers must be in 0…{Layers}.");
        if (LogitScales.Length == 0 || LogitScales.Any(l => !(l > 0))) throw new ArgumentOutOfRangeException(nameof(LogitScales), string.Join(",", LogitScales), "LogitScales must be positive numbers (at least one).");
        return this;
    }
}
