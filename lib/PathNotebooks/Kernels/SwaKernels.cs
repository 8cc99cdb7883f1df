using PathNotebooks.Cuda;
using PathNotebooks.Softmax;
using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>
/// Sliding-window softmax attention with the window W = 512 of the published comparisons: the blockwise form (query
/// blocks against key tiles, memory O(T·(C + W))) and the dense form (one SDPA call with a <c>[T, T]</c> band mask).
/// </summary>
static class SwaKernels
{
    /// <summary>The window every variant uses.</summary>
    public const int Window = 512;

    public static KernelOp Op { get; } = new("swa", $"sliding-window softmax attention (W = {Window})",
        KernelInputSpec.QueryKeyValue, Reference, new[]
        {
            new KernelVariant("swa blockwise", i => SlidingWindowAttention.Blockwise(i.Q, i.K, i.V, Window)),
            new KernelVariant("swa dense mask", i => SlidingWindowAttention.Dense(i.Q, i.K, i.V, Window)),
            new KernelVariant("swa fused (cuda)", i => FusedAttention.Forward(i.Q, i.K, i.V, window: Window), WhyNot: FusedKernelVariants.WhyNot),
        });

    /// <summary>softmax(QKᵀ/√D with −∞ outside i − W &lt; j ≤ i)·V in float64, <c>[B, H, T, Dv]</c>.</summary>
    public static Tensor Reference(KernelInputs i) => Explicit(i.Q, i.K, i.V, Window);

    /// <summary>The explicit band-masked softmax in float64 for any window: q, k, v <c>[B, H, T, D]</c> → <c>[B, H, T, Dv]</c>.</summary>
    public static Tensor Explicit(Tensor q, Tensor k, Tensor v, int window)
    {
        using var scope = NewDisposeScope();
        var q64 = q.to(ScalarType.Float64);
        long t = q.shape[2];
        var logits = q64.matmul(k.to(ScalarType.Float64).transpose(-2, -1)) / Math.Sqrt(q.shape[^1]);   // [B, H, T, T]
        var i = arange(t, device: q.device).unsqueeze(1);
        var j = arange(t, device: q.device).unsqueeze(0);
        var hidden = j.gt(i).logical_or(j.le(i - window));
        return logits.masked_fill(hidden, double.NegativeInfinity).softmax(-1).matmul(v.to(ScalarType.Float64)).MoveToOuterDisposeScope();
    }
}
