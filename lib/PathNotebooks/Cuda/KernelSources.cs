using System.Diagnostics;
using System.Text;

namespace PathNotebooks.Cuda;

/// <summary>One embedded source compiled by <see cref="KernelSources.CompileWithoutGpu"/>.</summary>
/// <param name="Source">the source's name, e.g. <c>gated_delta_rule.cu</c></param>
/// <param name="Architecture">e.g. <c>sm_90</c></param>
/// <param name="CubinBytes">size of the compiled image</param>
/// <param name="Seconds">NVRTC's wall time</param>
/// <param name="MissingEntries">entry points the wrappers launch that the image does not define (empty when all are there)</param>
public sealed record CompiledSource(string Source, string Architecture, int CubinBytes, double Seconds, IReadOnlyList<string> MissingEntries);

/// <summary>
/// The embedded CUDA sources and the entry points their wrappers launch, and a compile of all of them that needs NVRTC
/// but no GPU and no driver: CI runs it (with Debian's NVRTC), so a source that does not compile, or lacks an entry
/// point a wrapper names, fails before it reaches a GPU.
/// </summary>
public static class KernelSources
{
    /// <summary>Every embedded source with the entry points its wrapper launches.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Entries { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        [FusedAttention.SourceName] = FusedAttention.EntryNames().ToList(),
        [FusedGatedDeltaRule.SourceName] = FusedGatedDeltaRule.EntryNames().ToList(),
    };

    /// <summary>
    /// Compiles every embedded source for every architecture with the first NVRTC of <paramref name="nvrtcCandidates"/>
    /// that loads, with the options the host would use (<see cref="CudaKernelHost.CompileOptions"/>), and looks up every
    /// entry point in each image. Null when no NVRTC loads; <paramref name="compiler"/> then says why, else which NVRTC
    /// ran. A source that fails to compile throws <see cref="CudaKernelException"/> with NVRTC's log.
    /// </summary>
    public static IReadOnlyList<CompiledSource>? CompileWithoutGpu(IEnumerable<NvrtcCandidate> nvrtcCandidates,
        IReadOnlyList<(int Major, int Minor)> architectures, out string compiler)
    {
        var nvrtc = Nvrtc.TryLoad(nvrtcCandidates, out var reason);
        if (nvrtc is null) { compiler = reason; return null; }
        compiler = $"NVRTC {nvrtc.Version} from {nvrtc.Source.Path} [{nvrtc.Source.Origin}]";
        var results = new List<CompiledSource>();
        foreach (var name in CudaKernelHost.SourceNames())
            foreach (var arch in architectures)
            {
                var clock = Stopwatch.StartNew();
                var image = nvrtc.Compile(CudaKernelHost.Source(name), name, CudaKernelHost.CompileOptions(arch, nvrtc.Version));
                var entries = Entries.TryGetValue(name, out var e) ? e : Array.Empty<string>();
                results.Add(new CompiledSource(name, $"sm_{arch.Major}{arch.Minor}", image.Length, clock.Elapsed.TotalSeconds,
                    MissingEntries(image, entries)));
            }
        return results;
    }

    /// <summary>The entries a cubin (an ELF image) does not name in its string table (as a whole, zero-terminated name).</summary>
    internal static IReadOnlyList<string> MissingEntries(byte[] image, IEnumerable<string> entries) =>
        entries.Where(entry => image.AsSpan().IndexOf(Encoding.ASCII.GetBytes(entry + "\0")) < 0).ToList();
}
