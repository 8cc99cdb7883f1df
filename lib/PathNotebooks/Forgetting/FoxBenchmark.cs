using PathNotebooks.Benchmarks;

namespace PathNotebooks.Forgetting;

/// <summary>FoX kernels for <c>pathnb bench fox</c>: q, k, v from <see cref="BenchInputs"/> (bench dtype), log f float32.</summary>
public static class FoxBenchmark
{
    /// <summary>The automatic fast path, and its two forms explicitly (SDPA + float mask; chunked online softmax).</summary>
    public static IReadOnlyList<BenchKernel> Kernels { get; } = new[]
    {
        new BenchKernel("fox (auto)", i => ForgettingAttentionFast.Forward(i.Q, i.K, i.V, i.LogForget)),
        new BenchKernel("fox sdpa+mask", i => ForgettingAttentionFast.Sdpa(i.Q, i.K, i.V, i.LogForget)),
        new BenchKernel("fox chunked", i => ForgettingAttentionFast.Chunked(i.Q, i.K, i.V, i.LogForget, FoxKernelOptions.DefaultChunkSize)),
    };
}
