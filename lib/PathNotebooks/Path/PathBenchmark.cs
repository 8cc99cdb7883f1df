using PathNotebooks.Benchmarks;

namespace PathNotebooks.PaTH;

/// <summary>
/// Kernels for <c>pathnb bench path</c>: the chunked PaTH and PaTH-FoX forward (online softmax, C = 64) on
/// <see cref="BenchInputs"/>. q, k, v arrive in the benchmark dtype (bf16) and are computed in float32 inside the
/// kernel (output cast back); w, β and log f are float32 as the reference kernels require.
/// </summary>
public static class PathBenchmark
{
    public static IReadOnlyList<BenchKernel> Kernels { get; } = new[]
    {
        new BenchKernel("path chunked (C=64)",
            i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, null, PathAttentionChunked.DefaultChunkSize)),
        new BenchKernel("path-fox chunked (C=64)",
            i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.W, i.Beta, i.LogForget, PathAttentionChunked.DefaultChunkSize)),
    };
}
