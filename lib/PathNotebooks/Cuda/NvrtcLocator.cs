namespace PathNotebooks.Cuda;

/// <summary>One place NVRTC may be loaded from, and why it is on the list.</summary>
/// <param name="Path">a file path, or a bare library name for the system loader</param>
/// <param name="Origin">in words: "PATHNB_NVRTC", "beside libtorch (PyTorch wheel)", "CUDA toolkit", "system loader"</param>
public sealed record NvrtcCandidate(string Path, string Origin);

/// <summary>
/// Where the run-time CUDA compiler (NVRTC) is looked for, in order: an explicit path (the CLI and <c>Kit</c> pass
/// <see cref="PathVariable"/>), the NVIDIA wheels beside the libtorch in use (PyTorch ships
/// <c>nvidia/cu13/lib/libnvrtc.so.13</c> or <c>nvidia/cuda_nvrtc/lib/libnvrtc.so.12</c> next to <c>torch/lib</c>;
/// the libtorch zip has <c>libnvrtc-*.so.*</c> in its own folder), a CUDA toolkit (<c>$CUDA_HOME/lib64</c>,
/// <c>/usr/local/cuda/lib64</c>), and last the system loader's search path by name.
/// </summary>
public static class NvrtcLocator
{
    /// <summary>The environment variable with an explicit NVRTC library path (read at the edge, passed in).</summary>
    public const string PathVariable = "PATHNB_NVRTC";

    /// <summary>Bare names for the system loader, newest first (11.2 is the soname of CUDA 11.x's NVRTC, e.g. Debian's
    /// <c>libnvrtc11.2</c> package, which compiles for sm_80 … sm_90).</summary>
    public static IReadOnlyList<string> LoaderNames { get; } = new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so" };

    /// <summary>
    /// Every candidate in search order, without loading anything. <paramref name="files"/> lists a folder's file names
    /// (null for a missing folder; the default reads the disk), so tests can give a fake tree.
    /// </summary>
    /// <param name="explicitPath">a library path the user named, or null</param>
    /// <param name="libtorchFolder">the folder of the libtorch this process loaded (e.g. <c>…/site-packages/torch/lib</c>), or null</param>
    /// <param name="cudaHome">a CUDA toolkit root (<c>$CUDA_HOME</c>), or null</param>
    /// <param name="files">folder → the file names in it, or null when the folder does not exist</param>
    public static IReadOnlyList<NvrtcCandidate> Candidates(string? explicitPath, string? libtorchFolder, string? cudaHome,
        Func<string, IEnumerable<string>?>? files = null)
    {
        files ??= ListFolder;
        var found = new List<NvrtcCandidate>();
        if (!string.IsNullOrWhiteSpace(explicitPath)) found.Add(new NvrtcCandidate(explicitPath, PathVariable));
        if (!string.IsNullOrWhiteSpace(libtorchFolder))
        {
            var sitePackages = System.IO.Path.GetFullPath(System.IO.Path.Combine(libtorchFolder, "..", ".."));
            foreach (var wheel in new[] { "cu13", "cuda_nvrtc", "cu12" })
                AddLibraries(found, System.IO.Path.Combine(sitePackages, "nvidia", wheel, "lib"), "beside libtorch (NVIDIA wheel)", files);
            AddLibraries(found, libtorchFolder, "in the libtorch folder", files);
        }
        if (!string.IsNullOrWhiteSpace(cudaHome)) AddLibraries(found, System.IO.Path.Combine(cudaHome, "lib64"), "CUDA toolkit (CUDA_HOME)", files);
        AddLibraries(found, "/usr/local/cuda/lib64", "CUDA toolkit", files);
        found.AddRange(LoaderNames.Select(n => new NvrtcCandidate(n, "system loader")));
        return found.DistinctBy(c => c.Path).ToList();
    }

    /// <summary>NVRTC's own library files in a folder (not its builtins or alternative-ABI companions), newest name first.</summary>
    static void AddLibraries(List<NvrtcCandidate> found, string folder, string origin, Func<string, IEnumerable<string>?> files)
    {
        var names = files(folder);
        if (names is null) return;
        var libraries = names.Where(n => n.StartsWith("libnvrtc", StringComparison.Ordinal) && n.Contains(".so", StringComparison.Ordinal)
                && !n.Contains("builtins", StringComparison.Ordinal) && !n.Contains("alt", StringComparison.Ordinal))
            .OrderBy(n => n.Count(ch => ch == '.')).ThenByDescending(n => n, StringComparer.Ordinal);   // libnvrtc.so.13 before libnvrtc.so.13.0.88
        found.AddRange(libraries.Select(n => new NvrtcCandidate(System.IO.Path.Combine(folder, n), origin)));
    }

    static IEnumerable<string>? ListFolder(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder).Select(f => System.IO.Path.GetFileName(f)!) : null;
}
