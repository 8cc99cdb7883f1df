using System.Reflection;
using TorchSharp;

namespace PathNotebooks.Runtime;

/// <summary>What the runtime loaded: printed once as one line and written into every run.json.</summary>
public sealed record RuntimeInfo(
    string Device, string? GpuName, string LibtorchVersion, string TorchSharpVersion, string TorchBackend,
    string NativeSource, string? NativeDir, bool PatchedForOldLibstdcxx, int Threads)
{
    public bool IsCuda => Device == "cuda";

    public override string ToString() =>
        $"pathnb runtime: device={Device}{(GpuName != null ? $" ({GpuName})" : "")}, libtorch {LibtorchVersion}, " +
        $"TorchSharp {TorchSharpVersion} [{TorchBackend}], natives: {NativeSource}" +
        $"{(NativeDir != null ? $" ({NativeDir})" : "")}{(PatchedForOldLibstdcxx ? ", weak-patched glue for old libstdc++" : "")}, threads={Threads}";
}

/// <summary>
/// The one entry point that notebooks, the CLI and the tests call before any other torch use.
/// </summary>
/// <remarks>
/// CUDA is initialised first when it is wanted: in libtorch a CPU backward pass before CUDA initialisation
/// leaves CUDA unusable for the rest of the process (dotnet/TorchSharp#1198).
/// </remarks>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static RuntimeInfo? _info;
    static string _loadTrace = "";

    /// <summary>The loaded runtime, or null before <see cref="Initialize"/>.</summary>
    public static RuntimeInfo? Info => _info;

    /// <summary>The torch device chosen at initialisation (CPU until initialised).</summary>
    public static torch.Device Device => _info?.IsCuda == true ? torch.CUDA : torch.CPU;

    /// <summary>
    /// Loads libtorch and picks the device. <paramref name="device"/> is "auto" (CUDA when usable), "cpu" or "cuda";
    /// null means auto (notebooks pass what their run was asked for through Kit.Init). Safe to call again: later calls
    /// return the first result, and asking for CUDA after a CPU start is an error (CUDA cannot be initialised late).
    /// </summary>
    public static RuntimeInfo Initialize(string? device = null, bool quiet = false)
    {
        device = (device ?? "auto").Trim().ToLowerInvariant();
        if (device is not ("auto" or "cpu" or "cuda"))
            throw new ArgumentException($"device must be 'auto', 'cpu' or 'cuda', not '{device}'.", nameof(device));
        FSharpCoreBinding.Install();
        lock (Gate)
        {
            if (_info != null)
            {
                if (device == "cuda" && !_info.IsCuda)
                    throw new InvalidOperationException("The runtime was already started on the CPU in this process; CUDA must be chosen first. Restart the kernel/process and initialise with device 'cuda'.");
                return _info;
            }

            var outcome = NativeLoader.Prepare();
            _loadTrace = outcome.Trace;
            bool cuda = false;
            if (device != "cpu")
            {
                string why;
                try { cuda = torch.TryInitializeDeviceType(DeviceType.CUDA); why = cuda ? "" : "libtorch reports no usable CUDA device (CPU-only libtorch, no GPU, or no driver)"; }
                catch (Exception e) { cuda = false; why = e.Message; }
                if (!cuda && device == "cuda")
                    throw new InvalidOperationException(
                        $"CUDA was asked for but is not available: {why}\n" +
                        "What to do: use a CUDA libtorch — build with -p:TorchBackend=cuda (TorchSharp-cuda-linux from nuget.org), " +
                        "or set PATHNB_LIBTORCH to a CUDA PyTorch's torch/lib with a -p:TorchBackend=none build " +
                        "(scripts/publish-gpu-box.sh) — and check nvidia-smi. Or run with --device cpu.\n" +
                        $"Loader trace:\n{outcome.Trace}");
            }
            if (!cuda) torch.InitializeDeviceType(DeviceType.CPU);

            if (Environment.GetEnvironmentVariable("PATHNB_THREADS") is { Length: > 0 } t && int.TryParse(t, out var threads) && threads > 0)
                torch.set_num_threads(threads);

            _info = new RuntimeInfo(
                Device: cuda ? "cuda" : "cpu",
                GpuName: cuda ? GpuName() : null,
                LibtorchVersion: LibtorchVersion(outcome.LibtorchDir),
                TorchSharpVersion: typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "?",
                TorchBackend: BuildBackend,
                NativeSource: outcome.Source,
                NativeDir: outcome.LibtorchDir,
                PatchedForOldLibstdcxx: outcome.Patched,
                Threads: torch.get_num_threads());
            if (!quiet) Console.WriteLine(_info);
            return _info;
        }
    }

    /// <summary>The libtorch this build of the kit carries: "cpu", "cuda" or "none" (the <c>TorchBackend</c> build property).</summary>
    public static string BuildBackend { get; } = typeof(TorchRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "PathNotebooks.TorchBackend")?.Value ?? "?";

    /// <summary>The native loader's notes from initialisation (for troubleshooting).</summary>
    public static string LoadTrace => _loadTrace;

    /// <summary>Seeds torch (CPU and CUDA) and returns a .NET <see cref="Random"/> with the same seed.</summary>
    public static Random Seed(int seed)
    {
        Initialize(quiet: true);
        torch.manual_seed(seed);
        if (_info!.IsCuda) torch.cuda.manual_seed_all(seed);
        return new Random(seed);
    }

    static string LibtorchVersion(string? libDir)
    {
        // PyTorch installs keep torch/version.py beside torch/lib; NuGet builds match TorchSharp's libtorch.
        if (libDir != null && Path.Combine(libDir, "..", "version.py") is var vp && File.Exists(vp))
        {
            foreach (var line in File.ReadLines(vp))
                if (line.StartsWith("__version__", StringComparison.Ordinal))
                    return line.Split('=', 2)[1].Trim().Trim('\'', '"') + " (PyTorch)";
        }
        return torch.__version__.EndsWith(".0.0") ? torch.__version__[..^2] : torch.__version__;
    }

    static string? GpuName()
    {
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = System.Diagnostics.Process.Start(psi);
            if (p == null || !p.WaitForExit(10_000)) return "CUDA device";
            var name = p.StandardOutput.ReadLine()?.Trim();
            return string.IsNullOrEmpty(name) ? "CUDA device" : name;
        }
        catch { return "CUDA device"; }
    }
}
