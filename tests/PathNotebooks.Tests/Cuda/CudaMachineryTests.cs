using PathNotebooks.Cuda;
using PathNotebooks.Forgetting;
using PathNotebooks.Kernels;
using static TorchSharp.torch;

namespace PathNotebooks.Tests.Cuda;

/// <summary>
/// The fused-kernel machinery that needs no GPU: where NVRTC is looked for, how compiled modules are keyed and stored,
/// that the embedded source has every entry point the host launches, how the host reports a missing GPU or compiler,
/// and the argument checks of <see cref="FusedAttention"/>. The kernels themselves are checked on a GPU by
/// <c>pathnb check kernels</c>.
/// </summary>
[Collection("torch")]
public class CudaMachineryTests
{
    static Func<string, IEnumerable<string>?> Tree(Dictionary<string, string[]> folders) =>
        folder => folders.TryGetValue(folder, out var files) ? files : null;

    [Fact]
    public void NvrtcIsLookedForExplicitlyThenBesideLibtorchThenInTheToolkitThenByName()
    {
        var tree = Tree(new()
        {
            ["/venv/site-packages/nvidia/cu13/lib"] = ["libnvrtc.so.13.0.88", "libnvrtc-builtins.so.13.0", "libnvrtc.so.13", "libcublas.so.13"],
            ["/venv/site-packages/torch/lib"] = ["libtorch_cuda.so", "libnvrtc-672ee683.so.12"],
            ["/opt/cuda/lib64"] = ["libnvrtc.so.12", "libnvrtc.alt.so.12"],
            ["/usr/local/cuda/lib64"] = ["libnvrtc.so"],
        });
        var found = NvrtcLocator.Candidates("/my/libnvrtc.so", "/venv/site-packages/torch/lib", "/opt/cuda", tree);
        Assert.Equal(new[]
        {
            "/my/libnvrtc.so",
            "/venv/site-packages/nvidia/cu13/lib/libnvrtc.so.13", "/venv/site-packages/nvidia/cu13/lib/libnvrtc.so.13.0.88",
            "/venv/site-packages/torch/lib/libnvrtc-672ee683.so.12",
            "/opt/cuda/lib64/libnvrtc.so.12",
            "/usr/local/cuda/lib64/libnvrtc.so",
            "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so",
        }, found.Select(c => c.Path));
        Assert.Equal(NvrtcLocator.PathVariable, found[0].Origin);
        Assert.Equal("system loader", found[^1].Origin);
        Assert.DoesNotContain(found, c => c.Path.Contains("builtins") || c.Path.Contains(".alt."));
        // Nothing given, nothing on disk: only the loader's names.
        Assert.Equal(NvrtcLocator.LoaderNames, NvrtcLocator.Candidates(null, null, null, Tree(new())).Select(c => c.Path));
    }

    [Fact]
    public void CacheKeysChangeWithSourceArchitectureCompilerAndOptions()
    {
        string[] options = ["--gpu-architecture=sm_90", "-std=c++17"];
        var key = KernelCache.Key("src", "sm_90", "13.0", options);
        Assert.Equal(key, KernelCache.Key("src", "sm_90", "13.0", options));
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.NotEqual(key, KernelCache.Key("src ", "sm_90", "13.0", options));
        Assert.NotEqual(key, KernelCache.Key("src", "sm_80", "13.0", options));
        Assert.NotEqual(key, KernelCache.Key("src", "sm_90", "12.8", options));
        Assert.NotEqual(key, KernelCache.Key("src", "sm_90", "13.0", ["--gpu-architecture=sm_90"]));
        Assert.NotEqual(key, KernelCache.Key("src", "sm_90", "13.0", [.. options, "-lineinfo"]));
        // Fields cannot run into each other: "ab" + "c" is not "a" + "bc".
        Assert.NotEqual(KernelCache.Key("ab", "c", "1", []), KernelCache.Key("a", "bc", "1", []));
    }

    [Fact]
    public void CacheWritesWholeFilesAndLeavesNoTemporaries()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pathnb-cache-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var cache = new KernelCache(folder);
            var key = KernelCache.Key("s", "sm_90", "13.0", []);
            Assert.Null(cache.TryRead(key));
            cache.Write(key, [1, 2, 3]);
            Assert.Equal(new byte[] { 1, 2, 3 }, cache.TryRead(key));
            cache.Write(key, [4, 5]);                                        // replaced, not appended
            Assert.Equal(new byte[] { 4, 5 }, cache.TryRead(key));
            Assert.Equal(new[] { key + ".cubin" }, Directory.GetFiles(folder).Select(Path.GetFileName));
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void TheEmbeddedSourceHasEveryEntryPointTheHostLaunches()
    {
        Assert.Contains(FusedAttention.SourceName, CudaKernelHost.SourceNames());
        var source = CudaKernelHost.Source(FusedAttention.SourceName);
        foreach (var backward in new[] { false, true })
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
                foreach (var d in FusedAttention.HeadDims)
                {
                    var name = FusedAttention.EntryName(backward, dtype, d);
                    var (pass, tag) = (backward ? "backward" : "forward", dtype == ScalarType.BFloat16 ? "bf16" : "fp16");
                    Assert.Equal($"pn_attention_{pass}_{tag}_d{d}", name);
                    Assert.Contains($"PN_ENTRIES({tag}, {(dtype == ScalarType.BFloat16 ? "true" : "false")}, {d})", source);
                }
        Assert.Contains("pn_attention_forward_##TAG##_d##D(", source);
        Assert.Contains("pn_attention_backward_##TAG##_d##D(", source);
        Assert.Throws<ArgumentException>(() => CudaKernelHost.Source("nope.cu"));
        // Shared memory fits every GPU the host accepts (sm_80: 163 KB per block).
        Assert.True(FusedAttention.BackwardSharedBytes(128) <= 163 * 1024, $"{FusedAttention.BackwardSharedBytes(128)} bytes");
        Assert.Equal(2 * (2 * 64 * 72 * 2 + 64 * 4), FusedAttention.ForwardSharedBytes(64));                    // two stages
        Assert.Equal(2 * 64 * 72 * 2 + 64 * 72 * 2 + 64 * 4 + 2 * (2 * 64 * 72 * 2 + 3 * 64 * 4), FusedAttention.BackwardSharedBytes(64));
        Assert.Equal((128, 64), (FusedAttention.ForwardQueryTile(64), FusedAttention.ForwardQueryTile(128)));
    }

    [Fact]
    public void HostSaysWhyFusedKernelsAreOff()
    {
        var cache = new KernelCache(Path.Combine(Path.GetTempPath(), "pathnb-unused"));
        var cpu = CudaKernelHost.Create(cudaRuntime: false, [], cache);
        Assert.False(cpu.IsAvailable);
        Assert.Equal("fused CUDA kernels: off (the runtime is on the CPU); the TorchSharp forms run instead", cpu.Status);
        Assert.Throws<InvalidOperationException>(() => cpu.Compile(FusedAttention.SourceName));
        // Asked for CUDA on a machine without a driver (this one and CI): the driver is named.
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out _))
        {
            var noDriver = CudaKernelHost.Create(cudaRuntime: true, [], cache);
            Assert.False(noDriver.IsAvailable);
            Assert.Contains("libcuda.so.1", noDriver.Status);
        }
        Assert.Equal(new[] { "--gpu-architecture=sm_90", "-std=c++17", "-lineinfo" }, CudaKernelHost.CompileOptions((9, 0), "13.0"));
        // NVRTC 11.8 crashes on the sources with -lineinfo for sm_90 (not for sm_80).
        Assert.Equal(new[] { "--gpu-architecture=sm_90", "-std=c++17" }, CudaKernelHost.CompileOptions((9, 0), "11.8"));
        Assert.Equal(new[] { "--gpu-architecture=sm_80", "-std=c++17", "-lineinfo" }, CudaKernelHost.CompileOptions((8, 0), "11.8"));
    }

    [Fact]
    public void NvrtcThatIsNowhereIsReportedWithEveryPathTried()
    {
        var compiler = Nvrtc.TryLoad([new NvrtcCandidate("/nowhere/libnvrtc.so.13", "test"), new NvrtcCandidate("libnvrtc-not-a-library.so.99", "system loader")], out var reason);
        Assert.Null(compiler);
        Assert.Contains("/nowhere/libnvrtc.so.13 (missing)", reason);
        Assert.Contains("libnvrtc-not-a-library.so.99 (did not load)", reason);
        Assert.Contains(NvrtcLocator.PathVariable, reason);
    }

    [Fact]
    public void BadArgumentsNameTheArgumentAndTheShape()
    {
        using var scope = NewDisposeScope();
        var q = randn(1, 2, 5, 64);
        var gate = zeros(1, 2, 5);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => FusedAttention.Forward(randn(2, 5, 64), q, q)).ParamName);
        var k = Assert.Throws<ArgumentException>(() => FusedAttention.Forward(q, randn(1, 2, 6, 64), q));
        Assert.Equal("k", k.ParamName);
        Assert.Contains("[B, H, T, D]", k.Message);
        Assert.Equal("v", Assert.Throws<ArgumentException>(() => FusedAttention.Forward(q, q, randn(1, 2, 5, 32))).ParamName);
        Assert.Equal("logForget", Assert.Throws<ArgumentException>(() => FusedAttention.Forward(q, q, q, zeros(1, 2, 4))).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => FusedAttention.Forward(q, q, q, gate, window: -1)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentException>(() => FusedAttention.Forward(q, q.to(ScalarType.Float64), q)).ParamName);
        Assert.Equal("skipMargin", Assert.Throws<ArgumentOutOfRangeException>(() => FusedAttention.Forward(q, q, q, gate, skipMargin: double.NaN)).ParamName);
        Assert.Equal("scale", Assert.Throws<ArgumentOutOfRangeException>(() => FusedAttention.Forward(q, q, q, gate, scale: -0.125)).ParamName);
        Assert.Equal(FoxKernelOptions.DefaultSkipMargin, FusedAttention.DefaultSkipMargin);       // the fused and chunked forms skip alike
        Assert.True(double.IsPositiveInfinity(FoxKernelOptions.Default.FusedSkipMargin));         // opt-in in the fused kernel (its statistics pass costs)
        // Well-formed CPU inputs: refused with the reason, which WhyNot gives without throwing.
        Assert.Contains("run on CUDA", FusedAttention.WhyNot(q));
        Assert.Contains("run on CUDA", Assert.Throws<NotSupportedException>(() => FusedAttention.Forward(q, q, q, gate, window: 3)).Message);
        Assert.Contains("bf16 or fp16", FusedAttention.WhyNot(DeviceType.CUDA, ScalarType.Float32, 64, CudaKernelHost.Create(false, [], new KernelCache("/tmp/x"))));
        Assert.Contains("D = 64 and 128", FusedAttention.WhyNot(DeviceType.CUDA, ScalarType.BFloat16, 32, CudaKernelHost.Create(false, [], new KernelCache("/tmp/x"))));
    }

    [Fact]
    public void FoxUsesTheFusedKernelByDefaultAndCanTurnItOff()
    {
        Assert.Equal(FusedKernelUse.CastFloat32ToBf16, FoxKernelOptions.Default.Fused);
        Assert.Equal(FusedKernelUse.Off, (FoxKernelOptions.Default with { Fused = FusedKernelUse.Off }).Fused);
        Assert.Equal("fused CUDA kernel (flash_attention.cu)", new FoxKernelChoice(FoxKernelForm.Fused, 0, 0).ToString());
        // The error measure of the kernel check: relative, with a floor for a reference that is exactly zero, NaN kept.
        Assert.Equal(0.5, FusedKernelCheck.Error(tensor(new[] { 1.5, 0.0 }), tensor(new[] { 1.0, 0.0 })), 12);
        Assert.Equal(1e-3 / (1e-3 * Math.Sqrt(2)), FusedKernelCheck.Error(tensor(new[] { 1e-3, 0.0 }), zeros(2, dtype: ScalarType.Float64)), 12);
        Assert.True(double.IsNaN(FusedKernelCheck.Error(tensor(new[] { double.NaN, 0.0 }), zeros(2, dtype: ScalarType.Float64))));
    }
}
