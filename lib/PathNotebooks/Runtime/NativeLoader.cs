using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace PathNotebooks.Runtime;

/// <summary>
/// Finds and pre-loads libtorch and TorchSharp's native glue before TorchSharp's own loader runs, so that
/// (1) an existing PyTorch install can serve as libtorch (PATHNB_LIBTORCH) and
/// (2) hosts whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04) load a weak-patched copy of
/// libLibTorchSharp.so kept in a user cache folder. The NuGet cache is never modified.
/// </summary>
/// <remarks>
/// Once a library is loaded, later loads by bare name (TorchSharp's `DllImport("LibTorchSharp")`, the
/// DT_NEEDED entries `libtorch.so`, …) resolve to it through its SONAME, so pre-loading is enough.
/// </remarks>
internal static class NativeLoader
{
    public const string LibTorchEnv = "PATHNB_LIBTORCH";
    const string MissingVersion = "GLIBCXX_3.4.32";
    const string GlueName = "libLibTorchSharp.so";

    /// <summary>What was found and loaded; reported in the runtime's one-line summary.</summary>
    public sealed record Outcome(string? LibtorchDir, string? GluePath, bool Patched, string Source, string Trace);

    public static Outcome Prepare()
    {
        var trace = new StringBuilder();
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            return new Outcome(null, null, false, "TorchSharp default loader", "not Linux: nothing to prepare");

        var bundledDir = FindBundledNativeDir(trace);
        var bundledLibtorch = FindBundledLibtorch(bundledDir);
        string? libtorchDir = Environment.GetEnvironmentVariable(LibTorchEnv) is { Length: > 0 } env ? env : null;
        string source;
        if (libtorchDir != null)
        {
            if (!File.Exists(Path.Combine(libtorchDir, "libtorch_cpu.so")))
                throw new InvalidOperationException(
                    $"{LibTorchEnv}='{libtorchDir}' does not contain libtorch_cpu.so. Point it at PyTorch's torch/lib folder, e.g. " +
                    "$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),\"lib\"))').");
            if (bundledLibtorch != null)
                throw new InvalidOperationException(
                    $"{LibTorchEnv} is set, but this build also bundles its own libtorch in '{bundledLibtorch}'. One libtorch per process: " +
                    "unset the variable, or build/publish with -p:TorchBackend=none (scripts/publish-gpu-box.sh does).");
            source = $"PyTorch libtorch from {LibTorchEnv}";
        }
        else if (bundledLibtorch != null)
        {
            libtorchDir = bundledLibtorch;
            source = bundledLibtorch == bundledDir ? "bundled NuGet libtorch" : "NuGet cache libtorch";
        }
        else if (DetectPyTorchLib(trace) is { } detected)
        {
            libtorchDir = detected;
            source = "PyTorch libtorch detected through python3";
        }
        else
        {
            // Let TorchSharp's own loader try (and report): e.g. LD_LIBRARY_PATH set by a launcher script.
            source = "system loader path (LD_LIBRARY_PATH)";
        }
        trace.AppendLine($"libtorch folder: {libtorchDir ?? "(none found)"}; TorchSharp glue folder: {bundledDir ?? "(none found)"}");

        if (libtorchDir != null && libtorchDir != bundledDir)
            PreloadLibtorch(libtorchDir, trace);

        string? glue = bundledDir != null ? Path.Combine(bundledDir, GlueName) : null;
        bool patched = false;
        if (glue != null && File.Exists(glue) && !HostHasVersion(MissingVersion, trace))
        {
            var copy = PatchedGlueCopy(glue, libtorchDir ?? bundledDir!, trace);
            trace.AppendLine($"host libstdc++ lacks {MissingVersion}: loading weak-patched copy {copy}");
            NativeLibrary.Load(copy);
            glue = copy;
            patched = true;
        }
        else if (glue != null && File.Exists(glue) && libtorchDir != null && libtorchDir != bundledDir)
        {
            NativeLibrary.Load(glue);
        }
        return new Outcome(libtorchDir, glue, patched, source, trace.ToString());
    }

    /// <summary>The folder holding TorchSharp's libLibTorchSharp.so: the app folder, its runtimes/ tree or the NuGet package.</summary>
    static string? FindBundledNativeDir(StringBuilder trace)
    {
        var torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
        var candidates = new[]
        {
            AppContext.BaseDirectory,
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"),
            torchSharpDir,
            Path.Combine(torchSharpDir, "runtimes", "linux-x64", "native"),
            Path.GetFullPath(Path.Combine(torchSharpDir, "..", "..", "runtimes", "linux-x64", "native")), // NuGet cache layout
        };
        // A folder that has both the glue and libtorch (app output) wins over the glue alone (NuGet cache).
        var withGlue = candidates.Distinct().Where(d => File.Exists(Path.Combine(d, GlueName))).ToList();
        return withGlue.FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so"))) ?? withGlue.FirstOrDefault();
    }

    /// <summary>libtorch beside the glue (app output), or in the libtorch-cpu package of the same NuGet cache.</summary>
    static string? FindBundledLibtorch(string? glueDir)
    {
        if (glueDir == null) return null;
        if (File.Exists(Path.Combine(glueDir, "libtorch_cpu.so"))) return glueDir;
        // <packages>/torchsharp/<v>/runtimes/linux-x64/native → <packages>/libtorch-cpu-linux-x64/<v>/runtimes/linux-x64/native
        var packages = Path.GetFullPath(Path.Combine(glueDir, "..", "..", "..", "..", ".."));
        var pkg = Path.Combine(packages, "libtorch-cpu-linux-x64");
        if (!Directory.Exists(pkg)) return null;
        return Directory.GetDirectories(pkg).OrderByDescending(d => d, StringComparer.Ordinal)
            .Select(v => Path.Combine(v, "runtimes", "linux-x64", "native"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));
    }

    static void PreloadLibtorch(string dir, StringBuilder trace)
    {
        // Dependency order; the CUDA pieces exist only in CUDA builds of libtorch.
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            trace.AppendLine($"preload {path}");
            NativeLibrary.Load(path);
        }
    }

    static string? DetectPyTorchLib(StringBuilder trace)
    {
        try
        {
            var psi = new ProcessStartInfo("python3", "-c \"import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))\"")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p == null) return null;
            if (!p.WaitForExit(30_000)) { p.Kill(); return null; }
            var dir = p.StandardOutput.ReadToEnd().Trim();
            trace.AppendLine($"python3 torch lib: '{dir}' (exit {p.ExitCode})");
            return p.ExitCode == 0 && File.Exists(Path.Combine(dir, "libtorch_cpu.so")) ? dir : null;
        }
        catch (Exception e)
        {
            trace.AppendLine($"python3 not usable: {e.Message}");
            return null;
        }
    }

    /// <summary>True when the libstdc++ this process uses defines <paramref name="version"/>.</summary>
    internal static bool HostHasVersion(string version, StringBuilder? trace = null)
    {
        var lib = LoadedLibraryPath("libstdc++.so") ?? new[]
        {
            "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        }.FirstOrDefault(File.Exists);
        if (lib == null) { trace?.AppendLine("libstdc++ not found; assuming it is recent"); return true; }
        bool has = ElfVersionPatcher.FileMentionsVersion(lib, version);
        trace?.AppendLine($"host libstdc++ {lib}: {(has ? "has" : "lacks")} {version}");
        return has;
    }

    /// <summary>Path of a shared library already mapped into this process, from /proc/self/maps.</summary>
    internal static string? LoadedLibraryPath(string fileNamePrefix)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                var path = line[slash..].Trim();
                if (Path.GetFileName(path).StartsWith(fileNamePrefix, StringComparison.Ordinal)) return path;
            }
        }
        catch (IOException) { }
        return null;
    }

    /// <summary>
    /// A weak-patched copy of the glue library in ~/.cache/pathnotebooks/, with every other native library of
    /// <paramref name="libtorchDir"/> linked beside it (the glue's RUNPATH is $ORIGIN; alone it crashed).
    /// Written to a temporary name, then renamed, so concurrent processes never see half a file.
    /// </summary>
    static string PatchedGlueCopy(string glue, string libtorchDir, StringBuilder trace)
    {
        var bytes = File.ReadAllBytes(glue);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{glue}|{bytes.Length}|{File.GetLastWriteTimeUtc(glue):O}|{libtorchDir}")))[..16];
        var cacheRoot = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var dir = Path.Combine(cacheRoot, "pathnotebooks", $"torchsharp-glue-{key}");
        Directory.CreateDirectory(dir);

        foreach (var sibling in Directory.GetFiles(libtorchDir))
        {
            var name = Path.GetFileName(sibling);
            if (name == GlueName || !name.Contains(".so")) continue;
            var link = Path.Combine(dir, name);
            if (File.Exists(link) || Directory.Exists(link)) continue;
            try { File.CreateSymbolicLink(link, sibling); }
            catch (IOException) { /* another process made it first */ }
        }

        var target = Path.Combine(dir, GlueName);
        if (!File.Exists(target))
        {
            int changed = ElfVersionPatcher.MarkVersionNeedWeak(bytes, MissingVersion);
            trace.AppendLine($"patched {changed} version need(s) of {glue}");
            var tmp = $"{target}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, target, overwrite: true);
        }
        return target;
    }
}
