using PathNotebooks.Cuda;

namespace PathNotebooks.Forgetting;

/// <summary>
/// How <see cref="ForgettingAttentionFast.Forward"/> runs: an argument of the call (layers take it from
/// <see cref="FoxSpec.Kernel"/>), never a process-wide setting. The defaults are what every notebook
/// uses.
/// </summary>
/// <param name="SdpaMemoryBudgetBytes">the most memory <see cref="ForgettingAttentionFast.Sdpa"/> may need (its T×T
/// mask and what hangs off it, estimated by <see cref="ForgettingAttentionFast.Choose"/>); above it
/// <see cref="ForgettingAttentionFast.Chunked"/> runs. Null = automatic: <see cref="CudaBudgetFraction"/> of the CUDA
/// device's total memory, <see cref="DefaultCpuBudgetBytes"/> on the CPU.</param>
/// <param name="ChunkSize">rows/columns per block of the chunked form (≥ 1)</param>
/// <param name="SkipMargin">the chunked form skips a key block when every logit in it is provably more than this below
/// the row maximum (bound: scale·max‖q‖·max‖k‖ + max of the decay bias), i.e. its weights are below e^−SkipMargin
/// ≈ 4e−44 for 100: invisible even in float64. With a strongly forgetting gate this makes the cost O(T·window)
/// instead of O(T²). +∞ disables skipping.</param>
/// <param name="Fused">when the fused CUDA kernel (<see cref="Cuda.FusedAttention"/>) runs: the op uses it for bf16/fp16
/// inputs on a supported GPU (unless <see cref="FusedKernelUse.Off"/>); the FoX layer with the default
/// <see cref="FusedKernelUse.CastFloat32ToBf16"/> also runs float32 models' attention through it in bf16.</param>
/// <param name="FusedSkipMargin">the same block skipping in the fused CUDA kernel (<see cref="Cuda.FusedAttention.Forward"/>;
/// <see cref="DefaultSkipMargin"/> is the value to use). Off (+∞) by default: the bounds need a statistics pass over
/// q and k that costs more than it saves unless the gates forget strongly over the sequence (measured on an H200 at
/// B = 8, H = 16, T = 4096, D = 64 with the benchmark's gates, f ≈ 0.98, which never skip: forward 2.87 ms with it, 2.03 ms
/// without in an earlier run).</param>
public sealed record FoxKernelOptions(
    long? SdpaMemoryBudgetBytes = null,
    int ChunkSize = FoxKernelOptions.DefaultChunkSize,
    double SkipMargin = FoxKernelOptions.DefaultSkipMargin,
    FusedKernelUse Fused = FusedKernelUse.CastFloat32ToBf16,
    double FusedSkipMargin = double.PositiveInfinity)
{
    public const int DefaultChunkSize = 512;
    public const double DefaultSkipMargin = 100.0;

    /// <summary>Automatic budget on CUDA: this share of the device's total memory (the rest stays for the model,
    /// its activations and optimizer state).</summary>
    public const double CudaBudgetFraction = 0.25;

    /// <summary>Automatic budget on the CPU (and on CUDA when the device's memory cannot be read): 4 GiB.</summary>
    public const long DefaultCpuBudgetBytes = 4L << 30;

    /// <summary>The defaults (what the notebooks use).</summary>
    public static FoxKernelOptions Default { get; } = new();
}
