using PathNotebooks.Mixers;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Forgetting attention (FoX): softmax attention with a data-dependent forget gate and no other position signal, and
/// the "Pro" block switches. No sliding window: the forget gate decides what to drop. Decodes with a <see cref="FoxState"/>.
/// </summary>
public sealed record FoxSpec : MixerSpec
{
    readonly FoxKernelOptions kernel = FoxKernelOptions.Default;

    /// <summary>Per-head RMSNorm of the attention output, then ⊙ σ(W_og x) before the output projection.</summary>
    public bool OutputGate { get; init; }

    /// <summary>Per-head RMSNorm of q and k.</summary>
    public bool QkNorm { get; init; }

    /// <summary>KV shift: k̃ₜ = αₜk_{t−1} + (1 − αₜ)kₜ (same for v), αₜ a learned per-head gate.</summary>
    public bool KvShift { get; init; }

    /// <summary>
    /// Multiplies log f by 1/√d (d = head dimension) before it enters the kernel, i.e. softmax(qᵀk/√d + D/√d): the decay
    /// prior of PaTH-FoX, which scales the whole logit (FLA's convention), on plain FoX. Off by default (FoX adds D
    /// unscaled). The gate stays in (0, 1]: the effective gate is f^(1/√d).
    /// </summary>
    public bool ScaleGateByInverseSqrtHeadDim { get; init; }

    /// <summary>Which fast kernel runs for which size (SDPA with a float mask or the chunked online softmax), and its chunking.</summary>
    public FoxKernelOptions Kernel
    {
        get => kernel;
        init
        {
            ArgumentNullException.ThrowIfNull(value, nameof(Kernel));
            kernel = Require(value, value.ChunkSize >= 1, nameof(Kernel), "must have ChunkSize ≥ 1");
        }
    }

    public override string Name => (OutputGate || QkNorm || KvShift ? "FoX-Pro" : "FoX") + (ScaleGateByInverseSqrtHeadDim ? " (gate/√d)" : "");

    public override TokenMixer Create(MixerDimensions dimensions) => new ForgettingAttention(this, dimensions);

    /// <summary>Per token a key and a value (model dtype) and a cumulative log gate per head (float32, float64 kept);
    /// with KV shift also the previous raw key and value.</summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long e = ElementBytes(dtype);
        long perToken = batch * (2L * dimensions.DModel * e + dimensions.Heads * ElementBytes(ForgetGate.GateDType(dtype)));
        return context * perToken + (KvShift ? 2L * batch * dimensions.DModel * e : 0);
    }
}
