using PathNotebooks.Cuda;
using PathNotebooks.DeltaNet;
using PathNotebooks.PaTH;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Kernels;

/// <summary>
/// The gated delta rule: the chunked form at C = 64 and C = 128 (fewer sequential chunk steps, bigger batched
/// matmuls), the prefix-scan form at C = 64, and C = 64 with one 64×64 triangular solve per chunk instead of the
/// blocked solve Auto takes on CUDA (the comparison that justifies it), and the fused CUDA kernels
/// (<see cref="FusedGatedDeltaRule"/>): the forward alone for every head size it has, and forward with backward
/// (<see cref="FusedGatedDeltaRule.Output"/>) for the head sizes the backward kernels have. It reuses the registry's common inputs: logForget as log α and β as
/// drawn, in (0, 2) — the negative-eigenvalue range, which every form of the rule supports. q and k are L2-normalised
/// inside every variant and inside the reference, as the layer feeds the rule unit vectors (PaTH's w is drawn for the
/// shared input bundle but not read).
/// </summary>
static class GdnKernels
{
    public static KernelOp Op { get; } = new("gdn", "gated delta rule (linear attention with a decayed delta-rule state)",
        new KernelInputSpec(Transforms: true, LogForget: true), Reference, new[]
        {
            Variant("gdn chunked (C=64)", i => Chunked(i, 64, UnitLowerInverse.Auto)),
            Variant("gdn chunked (C=128)", i => Chunked(i, 128, UnitLowerInverse.Auto)),
            Variant("gdn chunked scan (C=64)", i => GatedDeltaRule.ChunkedScanUnchecked(Unit(i.Q), Unit(i.K), i.V, i.RequireLogForget, i.RequireBeta, 64, null, null, UnitLowerInverse.Auto).Output),
            Variant("gdn chunked (C=64, one 64×64 solve)", i => Chunked(i, 64, UnitLowerInverse.TriangularSolve)),
            new KernelVariant("gdn fused (cuda)", i => FusedGatedDeltaRule.Forward(Unit(i.Q), Unit(i.K), i.V, i.RequireLogForget, i.RequireBeta).Output,
                WhyNot: i => FusedGatedDeltaRule.WhyNot(i.Q, i.V), ForwardOnly: true),
            new KernelVariant("gdn fused fwd+bwd (cuda)", i => FusedGatedDeltaRule.Output(Unit(i.Q), Unit(i.K), i.V, i.RequireLogForget, i.RequireBeta),
                WhyNot: i => FusedGatedDeltaRule.WhyNotBackward(i.Q, i.V)),
        });

    static KernelVariant Variant(string name, Func<KernelInputs, Tensor> forward) => new(name, forward);

    /// <summary>
    /// The chunked rule without the public entry point's domain check (one reduction and a device wait): the registry
    /// times and fuzzes the kernel; the checks are fuzzed on the public ops by the property suite's domain errors.
    /// </summary>
    static Tensor Chunked(KernelInputs i, int chunk, UnitLowerInverse inverse) =>
        GatedDeltaRule.ChunkedUnchecked(Unit(i.Q), Unit(i.K), i.V, i.RequireLogForget, i.RequireBeta, chunk, null, null, inverse,
            GatedDeltaRule.DefaultChunksPerGroup).Output;

    /// <summary>
    /// Unit rows in the input's dtype, normalised in float32 for half-precision input: the backward of a bf16
    /// normalisation divides its rounding by ‖x‖, which at D = 1 and small ‖x‖ swamps the gradient.
    /// </summary>
    static Tensor Unit(Tensor x) => x.dtype is ScalarType.BFloat16 or ScalarType.Float16
        ? F.normalize(x.to(ScalarType.Float32), p: 2, dim: -1).to(x.dtype)
        : F.normalize(x, p: 2, dim: -1);

    /// <summary>The token recurrence (<see cref="GatedDeltaRule.Recurrent"/>) in float64.</summary>
    static Tensor Reference(KernelInputs i)
    {
        static Tensor F64(Tensor t) => t.to(ScalarType.Float64);
        return GatedDeltaRule.Recurrent(Unit(F64(i.Q)), Unit(F64(i.K)), F64(i.V), F64(i.RequireLogForget), F64(i.RequireBeta)).Output;
    }
}
