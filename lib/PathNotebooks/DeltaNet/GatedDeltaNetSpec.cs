using PathNotebooks.Mixers;
using PathNotebooks.PaTH;

namespace PathNotebooks.DeltaNet;

/// <summary>
/// Gated DeltaNet (GDN), or plain DeltaNet with <see cref="Gate"/> off: linear attention whose fixed-size matrix memory
/// is written by the (gated) delta rule. No position signal besides the short convolutions and the recurrence itself.
/// Decodes with a <see cref="GatedDeltaNetState"/> of constant size.
/// </summary>
public sealed record GatedDeltaNetSpec : MixerSpec
{
    readonly int? headDim;
    readonly int valueExpansion = 1, convKernel = 4, chunkSize = GatedDeltaRule.DefaultChunkSize;

    /// <summary>Key and query width per head Dk; null means DModel / Heads.</summary>
    public int? HeadDim { get => headDim; init => headDim = value is null ? null : Require(value, value >= 1, nameof(HeadDim), "must be ≥ 1 (or null for DModel / Heads)"); }

    /// <summary>Value width per head as a multiple of <see cref="HeadDim"/>: Dv = ValueExpansion · Dk. Default 1, which
    /// keeps a small layer near softmax attention's parameter count (5·DModel² against 4·DModel²); the paper's large
    /// models use 2 (a memory twice as wide, and about 8·DModel² parameters).</summary>
    public int ValueExpansion { get => valueExpansion; init => valueExpansion = Require(value, value >= 1, nameof(ValueExpansion), "must be ≥ 1"); }

    /// <summary>Kernel of the causal depthwise convolutions on q, k and v (1 = no mixing with earlier tokens).</summary>
    public int ConvKernel { get => convKernel; init => convKernel = Require(value, value >= 1, nameof(ConvKernel), "must be ≥ 1"); }

    /// <summary>Chunk size of the chunked forward (any value gives the same result; speed differs).</summary>
    public int ChunkSize { get => chunkSize; init => chunkSize = Require(value, value >= 1, nameof(ChunkSize), "must be ≥ 1"); }

    /// <summary>True: data-dependent decay α ∈ (0, 1) (Gated DeltaNet). False: α = 1 (DeltaNet).</summary>
    public bool Gate { get; init; } = true;

    /// <summary>How the chunked form inverts its unit lower-triangular matrices (same result, speed differs by device).</summary>
    public UnitLowerInverse Inverse { get; init; } = UnitLowerInverse.Auto;

    /// <summary>
    /// True (default): a forward without gradients (evaluation, prefill) on a CUDA device runs the fused kernels of
    /// <see cref="Cuda.FusedGatedDeltaRule"/> when they support the head dimensions (chunks of 64 whatever
    /// <see cref="ChunkSize"/> says; products in TF32 with float32 accumulation, so a float32 model's outputs differ from
    /// the TorchSharp form's full-float32 products at the 10⁻³ level). False: the TorchSharp form for such forwards.
    /// </summary>
    public bool FusedForward { get; init; } = true;

    /// <summary>
    /// True: training on a CUDA device runs <see cref="Cuda.FusedGatedDeltaRule.Output"/>, the fused forward plus three
    /// backward kernels, when they support the head dimensions (<see cref="Cuda.FusedGatedDeltaRule.BackwardHeadDims"/>;
    /// chunks of 64 whatever <see cref="ChunkSize"/> says). That wins for small models, whose step is bound by kernel
    /// launches (the rule's autograd graph in TorchSharp ops is dozens of them; on an H200 notebook 05's GDN model steps
    /// in 11.7 instead of 20.1 ms), and loses at large shapes, where the backward kernels' plain float32 arithmetic is
    /// slow (42 ms forward and backward at B = 8, H = 16, T = 4096, D = 64). Off by default for that reason.
    /// False: the TorchSharp chunked form, differentiated by autograd.
    /// </summary>
    public bool FusedBackward { get; init; }

    public override string Name => Gate ? "GDN" : "DeltaNet";

    /// <summary>Key width per head at these dimensions.</summary>
    public int KeyDim(MixerDimensions dimensions) => HeadDim ?? dimensions.HeadDim;

    /// <summary>Value width per head at these dimensions.</summary>
    public int ValueDim(MixerDimensions dimensions) => ValueExpansion * KeyDim(dimensions);

    public override TokenMixer Create(MixerDimensions dimensions) => new GatedDeltaNet(this, dimensions);

    /// <summary>The memory S (<c>Heads·Dk·Dv</c> numbers per sequence, float32 for a half-precision model) and the last
    /// ConvKernel − 1 inputs of the three convolutions (model dtype). The same after every token.</summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long h = dimensions.Heads, dk = KeyDim(dimensions), dv = ValueDim(dimensions);
        long memory = batch * h * dk * dv * ElementBytes(Householder.AccumulationType(dtype));
        long history = batch * (ConvKernel - 1L) * h * (2 * dk + dv) * ElementBytes(dtype);
        return memory + history;
    }
}
