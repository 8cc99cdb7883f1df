using PathNotebooks.PaTH;
using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>
/// PaTH and PaTH-FoX: the chunked forward (online softmax) at the model default C = 64 and at larger chunks (fewer
/// sequential sweep steps, bigger matmuls: what suits a GPU), PaTH-FoX at the large chunks, and one variant that
/// inverts the UT matrices by the block recursion instead of the (CUDA default) triangular solve. q, k, v may be
/// half precision (computed in float32 inside, output cast back); w, β and log f are float32 or float64.
/// </summary>
static class PathKernels
{
    public static KernelOp Path { get; } = new("path", "PaTH attention (Householder transforms between query and key)",
        new KernelInputSpec(Transforms: true), i => Reference(i, logForget: null),
        new[] { 64, 128, 256, 512 }.Select(c => Chunked($"path chunked (C={c})", c, gated: false))
            .Append(Chunked("path chunked (C=256, block-inverse UT)", 256, gated: false, UnitLowerInverse.Blockwise))
            .ToArray());

    public static KernelOp PathFox { get; } = new("path-fox", "PaTH with a forget gate (PaTH-FoX)",
        new KernelInputSpec(Transforms: true, LogForget: true), i => Reference(i, i.RequireLogForget),
        new[] { 256, 512 }.Select(c => Chunked($"path-fox chunked (C={c})", c, gated: true)).ToArray());

    static KernelVariant Chunked(string name, int chunkSize, bool gated, UnitLowerInverse inverse = UnitLowerInverse.Auto) =>
        new(name, i => PathAttentionChunked.ForwardUnchecked(i.Q, i.K, i.V, i.RequireW, i.RequireBeta, gated ? i.RequireLogForget : null,
            chunkSize, scale: null, inverse));   // the kernel without the public entry point's domain check (fuzzed there by the property suite)

    /// <summary>The decode-recurrence form (<see cref="PathAttentionNaive"/>) in float64.</summary>
    static Tensor Reference(KernelInputs i, Tensor? logForget)
    {
        static Tensor F64(Tensor t) => t.to(ScalarType.Float64);
        return PathAttentionNaive.Forward(F64(i.Q), F64(i.K), F64(i.V), F64(i.RequireW), F64(i.RequireBeta),
            logForget is null ? null : F64(logForget));
    }
}
