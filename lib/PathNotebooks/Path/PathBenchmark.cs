using PathNotebooks.Benchmarks;

namespace PathNotebooks.PaTH;

/// <summary>
/// Kernels for <c>pathnb bench path</c>: the chunked PaTH and PaTH-FoX forward (online softmax) on
/// <see cref="BenchInputs"/>, at the default chunk C = 64 and at larger chunks (fewer sequential sweep steps, bigger
/// matmuls — what suits a GPU). q, k, v arrive in the benchmark dtype (bf16) and are computed in float32 inside the
/// kernel (output cast back); w, β and log f are float32 as the reference kernels require.
/// </summary>
public static class PathBenchmark
{
    public static IReadOnlyList<BenchKernel> Kernels { get; } = new[] { 64, 128, 256 }
        .SelectMany(c => new[]
        {
            new BenchKernel($"path chunked (C={c})", i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, null, c)),
            new BenchKernel($"path-fox chunked (C={c})", i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, i.LogForget, c)),
        }).ToArray();
}
