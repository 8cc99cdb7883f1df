using PathNotebooks.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>
/// Kernels for <c>pathnb bench path</c>: the chunked PaTH forward (online softmax) at the model default C = 64 and at
/// larger chunks (fewer sequential sweep steps, bigger matmuls: what suits a GPU), PaTH-FoX at the large chunks, and
/// one variant that inverts the UT matrices by the block recursion instead of the (CUDA default) triangular solve.
/// q, k, v arrive in the benchmark dtype (bf16) and are computed in float32 inside the kernel (TF32 matmuls on CUDA,
/// output cast back); w, β and log f are float32 as the reference kernels require.
/// </summary>
public static class PathBenchmark
{
    public static IReadOnlyList<BenchKernel> Kernels { get; } = new[] { 64, 128, 256, 512 }
        .Select(c => new BenchKernel($"path chunked (C={c})", i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, null, c)))
        .Concat(new[] { 256, 512 }.Select(c =>
            new BenchKernel($"path-fox chunked (C={c})", i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, i.LogForget, c))))
        .Append(new BenchKernel("path chunked (C=256, block-inverse UT)",
            i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, null, 256, inverse: UnitLowerInverse.Blockwise)))
        .ToArray();
}
