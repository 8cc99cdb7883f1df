namespace PathNotebooks.Models;

/// <summary>How a layer tells positions apart. Swap it in one line of <see cref="ModelConfig"/>.</summary>
public enum PositionEncoding
{
    /// <summary>No position signal: only the causal mask (Haviv et al. 2022; Kazemnejad et al. 2023).</summary>
    NoPE,
    /// <summary>Rotary embedding of q and k (RoFormer).</summary>
    RoPE,
    /// <summary>Fixed linear distance penalty on the logits (Press et al.).</summary>
    ALiBi,
    /// <summary>Data-dependent Householder products between key and query (PaTH).</summary>
    PaTH,
    /// <summary>Forgetting Transformer: data-dependent forget gate on softmax attention (FoX).</summary>
    FoX,
    /// <summary>PaTH with FoX's forget gate.</summary>
    PaTHFoX,
}

/// <summary>
/// A small causal transformer, the model family every notebook trains. Plain data: copy with <c>with { … }</c>.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Number of token ids.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Hidden width.</summary>
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    /// <summary>MLP hidden width = ratio × DModel (GELU).</summary>
    public double MlpRatio { get; init; } = 4;
    public PositionEncoding Encoding { get; init; } = PositionEncoding.RoPE;
    /// <summary>RoPE base θ (10 000 in RoFormer).</summary>
    public double RopeBase { get; init; } = 10_000;
    public Positional.RopePairing RopePairing { get; init; } = Positional.RopePairing.RotateHalf;
    /// <summary>Sliding-window attention: each query sees this many most recent keys (null = full causal).</summary>
    public int? Window { get; init; }
    /// <summary>PaTH: chunk size of the blockwise algorithm.</summary>
    public int PathChunkSize { get; init; } = 64;
    /// <summary>PaTH: rank of the low-rank projection that produces w.</summary>
    public int PathLowRank { get; init; } = 32;
    /// <summary>PaTH: how the kernel's UT transforms invert their unit lower-triangular matrices (same result, speed differs by device).</summary>
    public PaTH.UnitLowerInverse PathUnitLowerInverse { get; init; } = PaTH.UnitLowerInverse.Auto;
    /// <summary>FoX "Pro" block options.</summary>
    public bool FoxOutputGate { get; init; }
    public bool FoxQkNorm { get; init; }
    public bool FoxKvShift { get; init; }
    /// <summary>FoX: which fast kernel runs for which length (SDPA with a float mask or the chunked online softmax), and its chunking.</summary>
    public Forgetting.FoxKernelOptions FoxKernel { get; init; } = Forgetting.FoxKernelOptions.Default;
    /// <summary>Std of the normal initialisation of linear and embedding weights.</summary>
    public double InitStd { get; init; } = 0.02;

    public int HeadDim => DModel / Heads;

    /// <summary>Checks the numbers fit together; throws naming the field.</summary>
    public ModelConfig Validate()
    {
        if (VocabSize < 2) throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, "VocabSize must be ≥ 2.");
        if (DModel <= 0 || Heads <= 0 || DModel % Heads != 0)
            throw new ArgumentException($"DModel ({DModel}) must be a positive multiple of Heads ({Heads}).", nameof(DModel));
        if (Layers <= 0) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Layers must be ≥ 1.");
        if (Encoding == PositionEncoding.RoPE && HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dimension; DModel/Heads = {HeadDim}.", nameof(Heads));
        if (Window is <= 0) throw new ArgumentOutOfRangeException(nameof(Window), Window, "Window must be ≥ 1 or null.");
        ArgumentNullException.ThrowIfNull(FoxKernel, nameof(FoxKernel));
        if (FoxKernel.ChunkSize < 1) throw new ArgumentOutOfRangeException(nameof(FoxKernel), FoxKernel.ChunkSize, "FoxKernel.ChunkSize must be ≥ 1.");
        return this;
    }
}
