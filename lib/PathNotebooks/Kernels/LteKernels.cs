using PathNotebooks.Eviction;
using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>
/// LTE attention in its training form (every token with r &gt; 0 kept) with the LTE paper's window W = 768 and 4 sinks:
/// the masked SDPA form against the reference (explicit logits, index sets built by definition), with the
/// straight-through gradient of the keep scores.
/// </summary>
static class LteKernels
{
    /// <summary>The window and sinks every variant uses.</summary>
    public const int Window = 768, Sinks = 4;

    public static KernelOp Op { get; } = new("lte", $"LTE attention: sinks ({Sinks}), window (W = {Window}) and kept tokens, training form",
        new KernelInputSpec(KeepScores: true), Reference, new[]
        {
            new KernelVariant("lte masked sdpa", i => LteAttentionOps.Masked(i.Q, i.K, i.V, i.RequireKeepScores, Window, Sinks)),
        });

    /// <summary>The reference in float64, <c>[B, H, T, Dv]</c>.</summary>
    public static Tensor Reference(KernelInputs i) =>
        LteAttentionOps.Reference(i.Q.to(ScalarType.Float64), i.K.to(ScalarType.Float64), i.V.to(ScalarType.Float64),
            i.RequireKeepScores.to(ScalarType.Float64), Window, Sinks);
}
