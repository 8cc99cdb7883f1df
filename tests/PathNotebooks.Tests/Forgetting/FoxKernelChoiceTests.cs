using PathNotebooks.Forgetting;
using PathNotebooks.Runtime;

namespace PathNotebooks.Tests.Forgetting;

/// <summary>
/// The memory rule of <see cref="ForgettingAttentionFast.Forward"/>: SDPA while its estimated memory fits the budget.
/// </summary>
[Collection("torch")]
public class FoxKernelChoiceTests
{
    const long GiB = 1L << 30;

    static FoxKernelOptions Budget(long bytes) => new(SdpaMemoryBudgetBytes: bytes);

    static FoxKernelChoice Choose(long b, long h, long t, long d, ScalarType dtype, bool requiresGrad, DeviceType device,
        FoxKernelOptions? options = null) => ForgettingAttentionFast.Choose(b, h, t, d, dtype, requiresGrad, device, options);

    [Theory]
    [InlineData(DeviceType.CPU, false)]
    [InlineData(DeviceType.CPU, true)]
    [InlineData(DeviceType.CUDA, false)]
    [InlineData(DeviceType.CUDA, true)]
    public void BudgetBoundaryBothWays(DeviceType device, bool requiresGrad)
    {
        long needed = ForgettingAttentionFast.SdpaBytes(8, 16, 4096, 64, ScalarType.BFloat16, requiresGrad, device);
        var atBudget = Choose(8, 16, 4096, 64, ScalarType.BFloat16, requiresGrad, device, Budget(needed));
        Assert.Equal(new FoxKernelChoice(FoxKernelForm.Sdpa, needed, needed), atBudget);
        var below = Choose(8, 16, 4096, 64, ScalarType.BFloat16, requiresGrad, device, Budget(needed - 1));
        Assert.Equal(new FoxKernelChoice(FoxKernelForm.Chunked, needed, needed - 1), below);
        Assert.StartsWith("sdpa+mask", atBudget.ToString());
        Assert.StartsWith("chunked", below.ToString());
    }

    [Fact]
    public void CpuDefaultBudgetIsFourGiB()
    {
        var small = Choose(4, 16, 1024, 64, ScalarType.Float32, false, DeviceType.CPU);
        Assert.Equal(4 * GiB, small.BudgetBytes);
        Assert.Equal(FoxKernelForm.Sdpa, small.Form);                                  // ≈ 0.5 GiB
        var large = Choose(4, 16, 4096, 64, ScalarType.Float32, false, DeviceType.CPU, FoxKernelOptions.Default);
        Assert.Equal(4 * GiB, large.BudgetBytes);
        Assert.Equal(FoxKernelForm.Chunked, large.Form);                               // ≈ 8 GiB
        // CUDA: a quarter of the device's memory where it can be read (not in a CPU-only process), else the same 4 GiB.
        var cuda = Choose(1, 1, 8, 8, ScalarType.BFloat16, false, DeviceType.CUDA);
        Assert.Equal(CudaMemory.TotalBytes() is long total ? (long)(total * 0.25) : 4 * GiB, cuda.BudgetBytes);
    }

    /// <summary>
    /// The notebooks' FoX shapes [B, H, T, D] (notebook 04's tiny and full settings): training windows with
    /// gradients, evaluation windows (4L) without. Their numbers must not change, so they must stay on SDPA.
    /// </summary>
    [Theory]
    [InlineData(16, 2, 64, 32, true)]       // tiny: BatchSize 16, Heads 2, L = 64, DModel 64
    [InlineData(16, 2, 256, 32, false)]     // tiny: EvalBatch 16
    [InlineData(32, 4, 256, 64, true)]      // full: BatchSize 32, Heads 4, L = 256, DModel 256
    [InlineData(16, 4, 1024, 64, false)]    // full: EvalBatch 16
    public void NotebookSizesStayOnSdpa(long b, long h, long t, long d, bool requiresGrad)
    {
        Assert.Equal(FoxKernelForm.Sdpa, Choose(b, h, t, d, ScalarType.Float32, requiresGrad, DeviceType.CPU).Form);
        // On a GPU a quarter of a small one (16 GiB) holds them too, in float32 and bf16.
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            Assert.Equal(FoxKernelForm.Sdpa, Choose(b, h, t, d, dtype, requiresGrad, DeviceType.CUDA, Budget(4 * GiB)).Form);
    }

    /// <summary>
    /// Peak memory allocated by the Sdpa op sequence on an H200 (libtorch 2.11, bf16, H = 16, D = 64): the estimate
    /// stays just above it, and a quarter of that GPU (150,109,880,320 bytes) runs SDPA on all three standard shapes.
    /// </summary>
    [Theory]
    [InlineData(2048, 16, true, 8.57)]
    [InlineData(4096, 8, true, 16.57)]
    [InlineData(8192, 4, true, 32.57)]
    [InlineData(2048, 16, false, 8.01)]
    [InlineData(4096, 8, false, 16.02)]
    [InlineData(8192, 4, false, 32.06)]
    public void EstimateTracksMeasuredH200Peaks(long t, long b, bool requiresGrad, double measuredGiB)
    {
        var choice = Choose(b, 16, t, 64, ScalarType.BFloat16, requiresGrad, DeviceType.CUDA, Budget(150_109_880_320 / 4));
        Assert.InRange(choice.SdpaBytes / (measuredGiB * GiB), 1.0, 1.1);
        Assert.Equal(FoxKernelForm.Sdpa, choice.Form);
    }

    [Fact]
    public void MathFallbackCountsTheProbabilities()
    {
        const long entries = 2L * 4 * 512 * 512, queryEntries = 2L * 4 * 512 * 64;   // [2, 4, 512, 512], [2, 4, 512, 64]
        static long Bytes(long d, ScalarType dtype, bool grad, DeviceType device) =>
            ForgettingAttentionFast.SdpaBytes(2, 4, 512, d, dtype, grad, device);
        // Fused: the float32 bias and its masked copy, plus the linear terms.
        Assert.Equal(8 * entries + 4 * queryEntries, Bytes(64, ScalarType.BFloat16, false, DeviceType.CUDA));
        Assert.Equal(8 * entries + 32 * queryEntries, Bytes(64, ScalarType.BFloat16, true, DeviceType.CUDA));
        Assert.Equal(8 * entries + 4 * queryEntries, Bytes(64, ScalarType.Float32, false, DeviceType.CPU));
        // Math fallback: the CPU with gradients (bias, 4 float32 probability-sized tensors), CUDA float64, and CUDA
        // with a head dimension the fused kernel cannot take.
        Assert.Equal((4 + 4 * 4) * entries + 32 * queryEntries, Bytes(64, ScalarType.Float32, true, DeviceType.CPU));
        Assert.Equal((8 + 3 * 8) * entries + 4 * queryEntries, Bytes(64, ScalarType.Float64, false, DeviceType.CUDA));
        Assert.Equal((4 + 2 + 3 * 4) * entries + 4 * 2 * 4 * 512 * 60, Bytes(60, ScalarType.BFloat16, false, DeviceType.CUDA));
        Assert.Equal(long.MaxValue, ForgettingAttentionFast.SdpaBytes(1 << 20, 1 << 20, 1 << 20, 64, ScalarType.Float32, true,
            DeviceType.CUDA));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Choose(1, 1, 8, 8, ScalarType.Float32, false, DeviceType.CPU, Budget(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ForgettingAttentionFast.SdpaBytes(1, 1, 0, 8, ScalarType.Float32, false, DeviceType.CPU));
        Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.SdpaBytes(1, 1, 8, 8, ScalarType.Int64, false, DeviceType.CPU));
    }
}
