using PathNotebooks.Cuda;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Kernels;

/// <summary>Plain causal softmax attention: libtorch's fused SDPA against the explicit masked softmax.</summary>
static class SdpaKernels
{
    public static KernelVariant Causal { get; } = new("sdpa (causal)", i => F.scaled_dot_product_attention(i.Q, i.K, i.V, is_casual: true));

    /// <summary>The kit's own fused kernel with neither gate nor window: how close a C#-launched kernel gets to SDPA.</summary>
    public static KernelVariant Fused { get; } = new("causal fused (cuda)", i => FusedAttention.Forward(i.Q, i.K, i.V), WhyNot: FusedKernelVariants.WhyNot);

    public static KernelOp Op { get; } = new("sdpa", "causal softmax attention (the benchmark baseline)",
        KernelInputSpec.QueryKeyValue, Reference, new[] { Causal, Fused });

    /// <summary>softmax(QKᵀ/√D, −∞ above the diagonal)·V in float64, <c>[B, H, T, Dv]</c>.</summary>
    static Tensor Reference(KernelInputs i)
    {
        using var scope = NewDisposeScope();
        var q = i.Q.to(ScalarType.Float64);
        var k = i.K.to(ScalarType.Float64);
        long t = q.shape[2];
        var logits = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(q.shape[^1]);          // [B, H, T, T]
        var future = ones(t, t, dtype: ScalarType.Bool, device: q.device).triu(1);
        var probs = logits.masked_fill(future, double.NegativeInfinity).softmax(-1);
        return probs.matmul(i.V.to(ScalarType.Float64)).MoveToOuterDisposeScope();
    }
}
