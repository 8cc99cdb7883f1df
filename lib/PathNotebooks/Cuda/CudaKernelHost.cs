using System.Reflection;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cuda;

/// <summary>
/// Compiles the kit's CUDA sources (embedded in the assembly) with NVRTC for the GPU's architecture at first use,
/// caches the cubin on disk (<see cref="KernelCache"/>) and launches kernels through the CUDA driver on the stream
/// libtorch uses. Fused kernels are an accelerator: when something is missing — no CUDA device, no driver, no NVRTC, a
/// GPU older than sm_80 (no bf16 tensor cores) — <see cref="IsAvailable"/> is false, <see cref="Status"/> says why in
/// one line, and callers run their TorchSharp forms.
/// </summary>
public sealed class CudaKernelHost
{
    /// <summary>The oldest architecture the kernels are written for (bf16 mma.sync and ldmatrix: Ampere).</summary>
    public static readonly (int Major, int Minor) MinimumArchitecture = (8, 0);

    static readonly Lazy<CudaKernelHost> shared = new(() => Create(
        TorchRuntime.Info?.IsCuda == true,
        NvrtcLocator.Candidates(Environment.GetEnvironmentVariable(NvrtcLocator.PathVariable), TorchRuntime.Info?.NativeDir,
            Environment.GetEnvironmentVariable("CUDA_HOME")),
        new KernelCache(KernelCache.DefaultFolder())));

    /// <summary>
    /// The process's host, set up from the runtime (<see cref="TorchRuntime.Initialize"/> must have run), the libtorch
    /// folder it loaded, <c>PATHNB_NVRTC</c> / <c>CUDA_HOME</c> (read once, here) and the default cache folder.
    /// </summary>
    public static CudaKernelHost Shared => shared.Value;

    readonly CudaDriver? driver;
    readonly Nvrtc? nvrtc;
    readonly Dictionary<(string Source, int Device), IntPtr> modules = new();
    readonly Dictionary<(string Entry, int Device), IntPtr> functions = new();

    /// <summary>True when fused kernels can run on device 0.</summary>
    public bool IsAvailable { get; }

    /// <summary>One line: which NVRTC and architecture are used, or why fused kernels are off.</summary>
    public string Status { get; }

    /// <summary>The compute capability of device 0, e.g. (9, 0); null without a driver.</summary>
    public (int Major, int Minor)? Architecture { get; }

    /// <summary>The most dynamic shared memory a block may use on device 0 (bytes); null without a driver.</summary>
    public int? MaxSharedBytesPerBlock { get; }

    /// <summary>Where compiled modules are kept.</summary>
    public KernelCache Cache { get; }

    CudaKernelHost(CudaDriver? driver, Nvrtc? nvrtc, (int, int)? architecture, KernelCache cache, bool available, string status)
    {
        this.driver = driver; this.nvrtc = nvrtc; Architecture = architecture; Cache = cache; IsAvailable = available; Status = status;
        if (available && driver is not null)
            try { MaxSharedBytesPerBlock = driver.MaxSharedBytesPerBlock(0); }
            catch (CudaKernelException) { MaxSharedBytesPerBlock = null; }
    }

    /// <summary>A host for this process: <paramref name="cudaRuntime"/> says whether libtorch runs on CUDA.</summary>
    public static CudaKernelHost Create(bool cudaRuntime, IEnumerable<NvrtcCandidate> nvrtcCandidates, KernelCache cache)
    {
        if (!cudaRuntime) return Off(cache, "the runtime is on the CPU", null, null, null);
        var driver = CudaDriver.TryLoad(out var why);
        if (driver is null) return Off(cache, why, null, null, null);
        (int, int) arch;
        try { arch = driver.ComputeCapability(0); }
        catch (CudaKernelException e) { return Off(cache, e.Message, driver, null, null); }
        if (arch.CompareTo(MinimumArchitecture) < 0)
            return Off(cache, $"the GPU is sm_{arch.Item1}{arch.Item2}; the kernels need sm_{MinimumArchitecture.Major}{MinimumArchitecture.Minor} or newer (bf16 tensor cores)", driver, null, arch);
        var compiler = Nvrtc.TryLoad(nvrtcCandidates, out why);
        if (compiler is null) return Off(cache, why, driver, null, arch);
        return new CudaKernelHost(driver, compiler, arch, cache, true,
            $"fused CUDA kernels: on (sm_{arch.Item1}{arch.Item2}, driver CUDA {driver.Version}, NVRTC {compiler.Version} from {compiler.Source.Path} [{compiler.Source.Origin}], cache {cache.Folder})");
    }

    static CudaKernelHost Off(KernelCache cache, string why, CudaDriver? driver, Nvrtc? nvrtc, (int, int)? arch) =>
        new(driver, nvrtc, arch, cache, false, $"fused CUDA kernels: off ({why}); the TorchSharp forms run instead");

    /// <summary>
    /// The NVRTC options every source is compiled with, for an architecture and an NVRTC version ("major.minor"):
    /// line information for profilers, except from NVRTC 11.x for sm_90 and newer — NVRTC 11.8 crashes (SIGSEGV) on
    /// the kit's sources with <c>-lineinfo</c> for sm_90, and compiles them without it.
    /// </summary>
    public static IReadOnlyList<string> CompileOptions((int Major, int Minor) arch, string nvrtcVersion)
    {
        bool oldCompiler = int.TryParse(nvrtcVersion.Split('.')[0], out int major) && major < 12;
        var options = new List<string> { $"--gpu-architecture=sm_{arch.Major}{arch.Minor}", "-std=c++17" };
        if (!(oldCompiler && arch.Major >= 9)) options.Add("-lineinfo");
        return options;
    }

    /// <summary>The text of an embedded CUDA source (<c>Cuda/Sources/&lt;name&gt;</c>).</summary>
    public static string Source(string name)
    {
        var resource = $"PathNotebooks.Cuda.Sources.{name}";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new ArgumentException($"no embedded CUDA source '{name}' (resource {resource}).", nameof(name));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The names of every embedded CUDA source.</summary>
    public static IReadOnlyList<string> SourceNames() => Assembly.GetExecutingAssembly().GetManifestResourceNames()
        .Where(n => n.StartsWith("PathNotebooks.Cuda.Sources.", StringComparison.Ordinal)).Select(n => n["PathNotebooks.Cuda.Sources.".Length..]).ToList();

    /// <summary>A kernel, compiled (or read from the cache) and loaded on first use, with its dynamic shared-memory limit set.</summary>
    internal IntPtr Function(string sourceName, string entry, int device, int maxSharedBytes)
    {
        if (!IsAvailable) throw new InvalidOperationException(Status);
        lock (modules)
        {
            if (functions.TryGetValue((entry, device), out var found)) return found;
            driver!.UseDevice(device);
            if (!modules.TryGetValue((sourceName, device), out var module))
            {
                var source = Source(sourceName);
                var options = CompileOptions(Architecture!.Value, nvrtc!.Version);
                var key = KernelCache.Key(source, $"sm_{Architecture.Value.Major}{Architecture.Value.Minor}", nvrtc!.Version, options);
                var image = Cache.TryRead(key);
                if (image is null)
                {
                    image = nvrtc.Compile(source, sourceName, options);
                    Cache.Write(key, image);
                }
                module = driver.LoadModule(image, sourceName);
                modules[(sourceName, device)] = module;
            }
            var function = driver.Function(module, entry, maxSharedBytes);
            functions[(entry, device)] = function;
            return function;
        }
    }

    /// <summary>Compiles a source now (without loading it): for <c>pathnb check kernels</c>; returns the cubin's size and whether it came from the cache.</summary>
    public (int Bytes, bool Cached) Compile(string sourceName)
    {
        if (!IsAvailable) throw new InvalidOperationException(Status);
        var source = Source(sourceName);
        var options = CompileOptions(Architecture!.Value, nvrtc!.Version);
        var key = KernelCache.Key(source, $"sm_{Architecture.Value.Major}{Architecture.Value.Minor}", nvrtc!.Version, options);
        if (Cache.TryRead(key) is { } cached) return (cached.Length, true);
        var image = nvrtc.Compile(source, sourceName, options);
        Cache.Write(key, image);
        return (image.Length, false);
    }

    /// <summary>Launches <paramref name="entry"/> of <paramref name="sourceName"/> on device <paramref name="device"/>'s default stream.</summary>
    internal void Launch(string sourceName, string entry, int device, (int X, int Y, int Z) grid, int threads, int sharedBytes, params object[] arguments)
    {
        var function = Function(sourceName, entry, device, sharedBytes);
        lock (modules)
        {
            driver!.UseDevice(device);
            driver.Launch(function, entry, grid, threads, sharedBytes, arguments);
        }
    }
}
