using PathNotebooks.Runtime;

namespace PathNotebooks.Tests.Runtime;

[Collection("torch")]
public class RuntimeTests
{
    [Fact]
    public void InitialisesOnCpuAndReportsWhatItLoaded()
    {
        var info = TorchRuntime.Initialize("cpu", quiet: true);
        Assert.Equal("cpu", info.Device);
        Assert.StartsWith("2.10", info.LibtorchVersion);
        Assert.Contains("device=cpu", info.ToString());
        Assert.Equal(info.PatchedForOldLibstdcxx, !NativeLoader.HostHasVersion("GLIBCXX_3.4.32"));
        // Asking for CUDA after a CPU start must say why it cannot work instead of failing later.
        var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.Initialize("cuda"));
        Assert.Contains("CUDA", e.Message);
    }

    [Fact]
    public void RejectsUnknownDevice()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.Initialize("tpu"));
        Assert.Equal("device", e.ParamName);
    }

    [Fact]
    public void SameSeedSameNumbers()
    {
        TorchRuntime.Seed(123); var a = randn(5); var ra = new Random(123).Next();
        var rng = TorchRuntime.Seed(123); var b = randn(5);
        Assert.True(a.eq(b).all().item<bool>());
        Assert.Equal(ra, rng.Next());
    }

    [Fact]
    public void PatchedGlueIsLoadedOnlyWhenHostLacksTheVersion()
    {
        TorchRuntime.Initialize("cpu", quiet: true);
        var loaded = NativeLoader.LoadedLibraryPath("libLibTorchSharp.so");
        Assert.NotNull(loaded);
        bool inCache = loaded!.Contains(Path.Combine(".cache", "pathnotebooks")) || loaded.Contains("pathnotebooks" + Path.DirectorySeparatorChar + "torchsharp-glue");
        Assert.Equal(!NativeLoader.HostHasVersion("GLIBCXX_3.4.32"), inCache);
    }
}
