using System.Runtime.InteropServices;

namespace PathNotebooks.Runtime;

/// <summary>
/// Device memory in use and in total, from the CUDA runtime that libtorch already loaded (<c>cudaMemGetInfo</c>; the
/// driver's <c>cuMemGetInfo_v2</c> as a fallback). TorchSharp exposes no allocator statistics, so this is how the
/// benchmark measures peak memory: PyTorch's caching allocator keeps freed blocks reserved, so the growth of device
/// memory in use across one run of a kernel, in a fresh process, is the peak the kernel reserved. The total sizes
/// automatic memory budgets.
/// </summary>
public static class CudaMemory
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int MemGetInfo(out nuint free, out nuint total);

    static readonly Lazy<MemGetInfo?> query = new(Find);

    /// <summary>Bytes in use on the current CUDA device (all processes), or null when no CUDA runtime is loaded.</summary>
    public static long? UsedBytes()
    {
        if (query.Value is not { } f) return null;
        return f(out var free, out var total) == 0 ? (long)(total - free) : null;
    }

    /// <summary>Total bytes of the current CUDA device, or null when no CUDA runtime is loaded.</summary>
    public static long? TotalBytes()
    {
        if (query.Value is not { } f) return null;
        return f(out _, out var total) == 0 ? (long)total : null;
    }

    static MemGetInfo? Find()
    {
        // The runtime library libtorch_cuda linked (its file name carries the CUDA major version), then the driver.
        var candidates = LoadedLibraries().Where(p => Path.GetFileName(p).StartsWith("libcudart.so", StringComparison.Ordinal))
            .Select(p => (Path: p, Symbol: "cudaMemGetInfo"))
            .Append(("libcuda.so.1", "cuMemGetInfo_v2"));
        foreach (var (path, symbol) in candidates)
        {
            if (NativeLibrary.TryLoad(path, out var handle) && NativeLibrary.TryGetExport(handle, symbol, out var address))
                return Marshal.GetDelegateForFunctionPointer<MemGetInfo>(address);
        }
        return null;
    }

    static IEnumerable<string> LoadedLibraries()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return Array.Empty<string>();
        return File.ReadLines(maps).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 6 && parts[5].StartsWith('/')).Select(parts => parts[5]).Distinct();
    }
}
