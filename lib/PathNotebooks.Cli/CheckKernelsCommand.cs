using PathNotebooks.Cuda;
using PathNotebooks.Kernels;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb check kernels`.</summary>
sealed record CheckKernelsOptions(int Seed, bool CompileOnly = false);

/// <summary>
/// `pathnb check kernels`: compiles every embedded CUDA source with NVRTC (or reads it from the cache), then runs
/// <see cref="FusedKernelCheck"/> and prints one line per case and a summary. Exit 0 when every case passes, 1 when one
/// fails or no fused kernels can run here (the line says why).
/// </summary>
static class CheckKernelsCommand
{
    /// <summary>The architectures <c>--compile-only</c> compiles for: the oldest the host accepts and Hopper.</summary>
    static readonly (int, int)[] CompileArchitectures = { CudaKernelHost.MinimumArchitecture, (9, 0) };

    public static int Run(CheckKernelsOptions options)
    {
        if (options.CompileOnly) return CompileOnly();
        var info = TorchRuntime.Initialize("auto");
        var host = CudaKernelHost.Shared;
        Console.WriteLine(info);
        Console.WriteLine(host.Status);
        if (!host.IsAvailable)
        {
            Console.Error.WriteLine("pathnb check kernels: needs a CUDA GPU (sm_80 or newer) with NVRTC; nothing was checked.");
            return 1;
        }
        foreach (var source in CudaKernelHost.SourceNames())
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (bytes, cached) = host.Compile(source);
            Console.WriteLine($"{source}: {(cached ? "from the cache" : $"compiled in {clock.Elapsed.TotalSeconds:F1} s")}, cubin {bytes:N0} bytes");
        }
        var cases = FusedKernelCheck.Run(TorchRuntime.Device, options.Seed, Console.WriteLine, host);
        int failed = cases.Count(c => !c.Passed);
        double Worst(Func<FusedKernelCase, double?> f) => cases.Max(c => f(c) ?? 0);
        Console.WriteLine($"{cases.Count} cases, {failed} failed; worst relative error: o {Worst(c => c.Output):E2}, dq {Worst(c => c.DQ):E2}, " +
            $"dk {Worst(c => c.DK):E2}, dv {Worst(c => c.DV):E2}, dlogf {Worst(c => c.DLogForget):E2} (tolerance {FusedKernelCheck.Tolerance:E0}; outputs poisoned with NaN before every run)");
        Console.WriteLine($"FoX block skipping: {cases.Sum(c => c.SkippedForward ?? 0)} key blocks skipped in the forwards, " +
            $"{cases.Sum(c => c.SkippedBackward ?? 0)} query blocks in the backwards (the strongly forgetting cases must skip some)");
        var gdn = FusedKernelCheck.RunGatedDeltaRule(TorchRuntime.Device, options.Seed, Console.WriteLine, host);
        int gdnFailed = gdn.Count(c => !c.Passed);
        Console.WriteLine($"gated delta rule: {gdn.Count} cases, {gdnFailed} failed; worst relative error: o {gdn.Max(c => c.Output):E2}, " +
            $"final state {gdn.Max(c => c.FinalState):E2} (tolerance {FusedKernelCheck.Tolerance:E0}; outputs and work buffers poisoned with NaN)");
        var gdnGradients = FusedKernelCheck.RunGatedDeltaRuleGradients(TorchRuntime.Device, options.Seed, Console.WriteLine, host);
        int gradientsFailed = gdnGradients.Count(c => !c.Passed);
        var worst = gdnGradients.SelectMany(c => c.Errors).GroupBy(e => e.Key).Select(g => $"{g.Key} {g.Max(e => e.Value):E2}");
        Console.WriteLine($"gated delta rule backward: {gdnGradients.Count} cases, {gradientsFailed} failed; worst relative error: {string.Join(", ", worst)} " +
            $"(tolerance {FusedKernelCheck.Tolerance:E0}; gradients and work buffers poisoned with NaN)");
        return failed + gdnFailed + gradientsFailed == 0 ? 0 : 1;
    }

    /// <summary>`--compile-only`: every source for <see cref="CompileArchitectures"/>, without touching a GPU.</summary>
    static int CompileOnly()
    {
        var candidates = NvrtcLocator.Candidates(Environment.GetEnvironmentVariable(NvrtcLocator.PathVariable), libtorchFolder: null,
            Environment.GetEnvironmentVariable("CUDA_HOME"));
        var results = KernelSources.CompileWithoutGpu(candidates, CompileArchitectures, out var compiler);
        Console.WriteLine(compiler);
        if (results is null)
        {
            Console.Error.WriteLine("pathnb check kernels --compile-only: needs NVRTC; nothing was compiled.");
            return 1;
        }
        foreach (var r in results)
            Console.WriteLine($"{r.Source} for {r.Architecture}: compiled in {r.Seconds:F1} s, cubin {r.CubinBytes:N0} bytes, "
                + (r.MissingEntries.Count == 0 ? $"all {KernelSources.Entries[r.Source].Count} entry points defined" : $"MISSING {string.Join(", ", r.MissingEntries)}"));
        return results.All(r => r.MissingEntries.Count == 0) ? 0 : 1;
    }
}
