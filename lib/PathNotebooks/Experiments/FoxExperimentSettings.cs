using PathNotebooks.Forgetting;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.PaTH;

namespace PathNotebooks.Experiments;

/// <summary>
/// One model of notebook 04's experiment: a position encoding and, for FoX only, whether its gate sum is scaled by
/// 1/√d (<see cref="FoxSpec.ScaleGateByInverseSqrtHeadDim"/>, the decay prior PaTH-FoX has).
/// </summary>
/// <param name="Encoding">the position encoding</param>
/// <param name="GateOverSqrtHeadDim">FoX with log f/√d (the control for PaTH-FoX's weaker prior); only with FoX</param>
public sealed record FoxVariant(PositionEncoding Encoding, bool GateOverSqrtHeadDim = false)
{
    /// <summary>The mixer spec (the registry's default spec of the encoding, with the gate scaling when asked for).</summary>
    public MixerSpec Spec => PositionEncodings.Spec(Encoding) switch
    {
        FoxSpec fox => fox with { ScaleGateByInverseSqrtHeadDim = GateOverSqrtHeadDim },
        var spec when GateOverSqrtHeadDim => throw new ArgumentException($"GateOverSqrtHeadDim applies to FoX only, not {spec.Name}.", nameof(GateOverSqrtHeadDim)),
        var spec => spec,
    };

    /// <summary>Label in tables and legends: "RoPE", "FoX", "FoX (gate/√d)", "PaTH", "PaTH-FoX".</summary>
    public string Name => Spec.Name;

    /// <summary>The plain model of <paramref name="encoding"/>.</summary>
    public static implicit operator FoxVariant(PositionEncoding encoding) => new(encoding);
}

/// <summary>Settings of the per-position-loss experiment of notebook 04 (FoX, FoX with gate/√d, PaTH, PaTH-FoX vs RoPE on text).</summary>
public sealed record FoxExperimentSettings : IExperimentSettings<FoxExperimentSettings>
{
    /// <summary>Training length L (tokens per training window).</summary>
    public int TrainLength { get; init; } = 64;
    /// <summary>Evaluation windows are this many times L long.</summary>
    public int EvalMultiple { get; init; } = 4;
    /// <summary>Training windows per step.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Optimizer steps per model.</summary>
    public int Steps { get; init; } = 200;
    /// <summary>Seeds per model: seed s uses model-initialisation index s and training-window stream index s.</summary>
    public int Seeds { get; init; } = 1;
    /// <summary>Number of fixed validation windows of length EvalMultiple·L (+1 for the last target).</summary>
    public int EvalSequences { get; init; } = 32;
    /// <summary>Evaluation windows per forward pass (bounds memory at long lengths).</summary>
    public int EvalBatch { get; init; } = 16;
    /// <summary>Evaluation windows (the first ones) of the cut-to-L evaluation: it runs the model once per position beyond L.</summary>
    public int CutContextSequences { get; init; } = 16;
    /// <summary>Sub-windows of L + 1 tokens per forward pass of the cut-to-L evaluation.</summary>
    public int CutContextBatch { get; init; } = 512;
    /// <summary>Validation windows whose attention probabilities give the attended distances (B·H·T² floats per layer).</summary>
    public int DistanceSequences { get; init; } = 4;
    /// <summary>Peak learning rate (AdamW, warm-up + cosine).</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Model width.</summary>
    public int DModel { get; init; } = 64;
    /// <summary>Blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Attention heads per block.</summary>
    public int Heads { get; init; } = 2;
    /// <summary>Chunk size of the chunked PaTH kernel.</summary>
    public int PathChunkSize { get; init; } = 64;

    /// <summary>The models to train, in this order (default: RoPE, FoX, FoX (gate/√d), PaTH, PaTH-FoX).</summary>
    public FoxVariant[] Models { get; init; } =
    {
        PositionEncoding.RoPE, PositionEncoding.FoX, new FoxVariant(PositionEncoding.FoX, GateOverSqrtHeadDim: true),
        PositionEncoding.PaTH, PositionEncoding.PaTHFoX,
    };

    /// <summary>The encodings of <see cref="Models"/>; setting it trains the plain model of each encoding.</summary>
    public PositionEncoding[] Encodings
    {
        get => Models.Select(m => m.Encoding).ToArray();
        init => Models = value?.Select(e => new FoxVariant(e)).ToArray()!;
    }

    /// <summary>Evaluation length EvalMultiple · L.</summary>
    public int EvalLength => EvalMultiple * TrainLength;

    /// <summary>Five byte-level models, one seed, in well under a minute on a 2-core CPU.</summary>
    public static FoxExperimentSettings Tiny => new()
    { TrainLength = 64, Steps = 150, BatchSize = 16, DModel = 64, Layers = 2, Heads = 2, EvalSequences = 16, PathChunkSize = 32, Seeds = 1, CutContextSequences = 8 };

    /// <summary>
    /// The GPU experiment: five models × three seeds. Training on one H200 is launch-bound at these sizes (time ∝ steps ×
    /// models), so it takes 200 steps of 128 windows — the tokens of 800 steps of 32 — to stay within about three minutes.
    /// </summary>
    public static FoxExperimentSettings Full => new()
    {
        TrainLength = 256, Steps = 200, BatchSize = 128, DModel = 256, Layers = 4, Heads = 4, EvalSequences = 64,
        EvalBatch = 16, LearningRate = 2e-3, PathChunkSize = 64, Seeds = 3, CutContextSequences = 16, CutContextBatch = 256, DistanceSequences = 4,
    };

    /// <summary>Checks the numbers; throws naming the field.</summary>
    public FoxExperimentSettings Validate()
    {
        if (TrainLength < 2) throw new ArgumentOutOfRangeException(nameof(TrainLength), TrainLength, "TrainLength must be ≥ 2.");
        if (EvalMultiple < 1) throw new ArgumentOutOfRangeException(nameof(EvalMultiple), EvalMultiple, "EvalMultiple must be ≥ 1.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be ≥ 1.");
        if (Seeds < 1) throw new ArgumentOutOfRangeException(nameof(Seeds), Seeds, "Seeds must be ≥ 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 1.");
        if (EvalSequences < 1) throw new ArgumentOutOfRangeException(nameof(EvalSequences), EvalSequences, "EvalSequences must be ≥ 1.");
        if (EvalBatch < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatch), EvalBatch, "EvalBatch must be ≥ 1.");
        if (CutContextSequences < 1) throw new ArgumentOutOfRangeException(nameof(CutContextSequences), CutContextSequences, "CutContextSequences must be ≥ 1.");
        if (CutContextBatch < 1) throw new ArgumentOutOfRangeException(nameof(CutContextBatch), CutContextBatch, "CutContextBatch must be ≥ 1.");
        if (DistanceSequences < 1) throw new ArgumentOutOfRangeException(nameof(DistanceSequences), DistanceSequences, "DistanceSequences must be ≥ 1.");
        if (Models is null || Models.Length == 0) throw new ArgumentException("Encodings must name at least one model.", nameof(Encodings));
        foreach (var m in Models) _ = m.Spec;                                            // throws for a gate scaling on a non-FoX model
        return this;
    }
}
