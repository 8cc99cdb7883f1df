using System.Text;
using PathNotebooks.Cuda;

namespace PathNotebooks.Tests.Cuda;

/// <summary>Runs a test only where NVRTC loads (CI installs Debian's NVRTC 11.8; no GPU is needed), else says why it skipped.</summary>
public sealed class NvrtcFactAttribute : FactAttribute
{
    public NvrtcFactAttribute()
    {
        if (KernelSourcesTests.NvrtcMissing is { } reason) Skip = reason;
    }
}

/// <summary>
/// Every embedded CUDA source compiles with NVRTC, without a GPU, for the oldest architecture the host accepts and
/// for Hopper, and defines every entry point its wrapper launches.
/// </summary>
[Collection("torch")]
public class KernelSourcesTests
{
    static IReadOnlyList<NvrtcCandidate> Candidates() =>
        NvrtcLocator.Candidates(Environment.GetEnvironmentVariable(NvrtcLocator.PathVariable), null, Environment.GetEnvironmentVariable("CUDA_HOME"));

    /// <summary>Null when some NVRTC candidate loads; else the reason the compile test is skipped.</summary>
    public static string? NvrtcMissing { get; } = Candidates().Any(c => c.Path.Contains('/')
        ? File.Exists(c.Path) : System.Runtime.InteropServices.NativeLibrary.TryLoad(c.Path, out _))
        ? null
        : "no NVRTC here (.ci/run installs Debian's libnvrtc11.2; or set PATHNB_NVRTC): the sources were not compiled";

    [NvrtcFact]
    public void EverySourceCompilesAndDefinesEveryEntryPoint()
    {
        var results = KernelSources.CompileWithoutGpu(Candidates(), new[] { CudaKernelHost.MinimumArchitecture, (9, 0) }, out var compiler);
        Assert.True(results is not null, compiler);
        Assert.Equal(CudaKernelHost.SourceNames().Count * 2, results!.Count);
        Assert.All(results, r => Assert.True(r.MissingEntries.Count == 0, $"{r.Source} for {r.Architecture} ({compiler}) lacks {string.Join(", ", r.MissingEntries)}"));
        Assert.All(results, r => Assert.True(r.CubinBytes > 0));
    }

    [Fact]
    public void EveryEmbeddedSourceHasItsEntryListAndMissingEntriesAreFound()
    {
        Assert.Equal(CudaKernelHost.SourceNames().Order(), KernelSources.Entries.Keys.Order());
        Assert.Equal(16, KernelSources.Entries[FusedAttention.SourceName].Count);   // forward, backward, Δ, skip statistics
        Assert.Equal(45 + 27, KernelSources.Entries[FusedGatedDeltaRule.SourceName].Count);   // forward 3×3×5, backward 3×3×3
        // A name counts only whole: "pn_k1" is not defined by an image that names "pn_k10".
        var image = Encoding.ASCII.GetBytes("\0.text.pn_k10\0pn_k10\0pn_k2\0");
        Assert.Equal(new[] { "pn_k1", "pn_k3" }, KernelSources.MissingEntries(image, new[] { "pn_k1", "pn_k2", "pn_k3", "pn_k10" }));
    }
}
