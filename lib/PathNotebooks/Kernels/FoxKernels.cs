using PathNotebooks.Cuda;
using PathNotebooks.Forgetting;
using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>
/// Forgetting attention (FoX): the automatic fast path (the fused CUDA kernel for bf16/fp16 on a supported GPU, else
/// SDPA while its memory fits the automatic budget, see <see cref="ForgettingAttentionFast.Choose"/>), and its forms
/// explicitly (SDPA with the decay bias as a float mask; chunked online softmax; the fused kernel), all with the
/// default <see cref="FoxKernelOptions"/>. log f is float32 (float64 for
/// float64 q).
/// </summary>
static class FoxKernels
{
    static readonly FoxKernelOptions Options = FoxKernelOptions.Default;

    public static KernelOp Op { get; } = new("fox", "forgetting attention (data-dependent decay bias)",
        new KernelInputSpec(LogForget: true), Reference, new[]
        {
            new KernelVariant("fox (auto)", i => ForgettingAttentionFast.Forward(i.Q, i.K, i.V, i.RequireLogForget, options: Options),
                (i, requiresGrad) => FusedKernelVariants.WhyNot(i) is null ? "fused CUDA kernel (flash_attention.cu)"
                    : ForgettingAttentionFast.Choose(i.Q.shape[0], i.Q.shape[1], i.Q.shape[2], i.Q.shape[3],
                    i.Q.dtype, requiresGrad, i.Q.device.type, Options).ToString()),
            new KernelVariant("fox sdpa+mask", i => ForgettingAttentionFast.Sdpa(i.Q, i.K, i.V, i.RequireLogForget)),
            new KernelVariant("fox chunked", i => ForgettingAttentionFast.Chunked(i.Q, i.K, i.V, i.RequireLogForget,
                Options.ChunkSize, skipMargin: Options.SkipMargin)),
            new KernelVariant("fox fused (cuda)", i => FusedAttention.Forward(i.Q, i.K, i.V, i.RequireLogForget), WhyNot: FusedKernelVariants.WhyNot),
        });

    /// <summary>The explicit <c>[B, H, T, T]</c> form (<see cref="ForgettingAttentionNaive"/>) in float64.</summary>
    static Tensor Reference(KernelInputs i) => ForgettingAttentionNaive.Forward(i.Q.to(ScalarType.Float64), i.K.to(ScalarType.Float64),
        i.V.to(ScalarType.Float64), i.RequireLogForget.to(ScalarType.Float64));
}
