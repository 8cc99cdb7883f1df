using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Kernels;
using PathNotebooks.Runtime;
using static TorchSharp.torch;

namespace PathNotebooks.Benchmarks;

/// <summary>One benchmark shape: <c>[B, H, T, D]</c> attention inputs.</summary>
public sealed record BenchShape(int T, int B, int H = 16, int D = 64)
{
    public override string ToString() => $"T={T} B={B} H={H} D={D}";
}

/// <summary>
/// Times attention kernels forward and forward+backward against a baseline in the same run and prints ratios.
/// Never used as a test: wall time is measured here, not asserted.
/// </summary>
public static class AttentionBenchmark
{
    /// <summary>Fused causal SDPA, the baseline every table is divided by (<see cref="KernelRegistry.Baseline"/>).</summary>
    public static KernelVariant Sdpa => KernelRegistry.Baseline;

    /// <summary>Random inputs for one shape, every one a leaf with gradients (see <see cref="KernelInputSpec.Random"/>).</summary>
    public static KernelInputs RandomInputs(BenchShape s, KernelInputSpec spec, Device device, ScalarType dtype, int seed = 0) =>
        spec.Random(s.B, s.H, s.T, s.D, device, dtype, seed);

    /// <summary>Mean milliseconds of <paramref name="body"/> over <paramref name="iterations"/> runs after warm-up (CUDA synchronised).</summary>
    public static double TimeMs(Action body, Device device, int warmup = 2, int iterations = 10)
    {
        for (int i = 0; i < warmup; i++) body();
        Sync(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) body();
        Sync(device);
        return clock.Elapsed.TotalMilliseconds / iterations;
    }

    /// <summary>Waits for the device's queued work (a no-op off CUDA): before a clock is read.</summary>
    internal static void Sync(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
    }

    /// <summary>
    /// Runs every kernel on every shape (fwd, then fwd+bwd with a unit upstream gradient; NaN for a
    /// <see cref="KernelVariant.ForwardOnly"/> kernel) and returns one row per
    /// (kernel, shape, pass) with the ratio to <paramref name="baseline"/> of the same shape and pass; a kernel with a
    /// <see cref="KernelVariant.Choice"/> also logs which implementation it ran. A kernel that fails
    /// on a shape (e.g. out of GPU memory) gets NaN there and the run goes on. <paramref name="inputs"/> says which inputs
    /// to draw for every shape (the union of the kernels' ops); null draws every input.
    /// </summary>
    public static DataFrame Run(IReadOnlyList<BenchShape> shapes, IReadOnlyList<KernelVariant> kernels, KernelVariant? baseline = null,
        ScalarType dtype = ScalarType.BFloat16, int warmup = 2, int iterations = 10, Action<string>? log = null, KernelInputSpec? inputs = null)
    {
        baseline ??= Sdpa;
        var spec = inputs ?? KernelInputSpec.Everything;
        var device = TorchRuntime.Device;
        var all = new[] { baseline }.Concat(kernels.Where(k => k.Name != baseline.Name)).ToList();
        var rows = new List<(string Kernel, BenchShape Shape, string Pass, double Ms)>();
        foreach (var shape in shapes)
        {
            using var shapeInputs = RandomInputs(shape, spec, device, dtype);
            foreach (var kernel in all)
            {
                double fwd, fwdBwd;
                if (kernel.Unsupported(shapeInputs) is { } notHere)
                {
                    log?.Invoke($"{kernel.Name,-28} {shape,-24} skipped: {notHere}");
                    continue;
                }
                try
                {
                    fwd = TimeMs(() => { using var s = NewDisposeScope(); using var _ = no_grad(); kernel.Forward(shapeInputs); }, device, warmup, iterations);
                    fwdBwd = kernel.ForwardOnly ? double.NaN : TimeMs(() =>
                    {
                        using var s = NewDisposeScope();
                        foreach (var t in shapeInputs.All) t.grad?.zero_();
                        var o = kernel.Forward(shapeInputs);
                        o.backward(new[] { ones_like(o) });
                    }, device, warmup, iterations);
                }
                catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or OutOfMemoryException)
                {
                    // Typically CUDA out of memory: record the failure for this kernel and shape, keep measuring the rest.
                    var reason = e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) ? "out of memory" : e.Message.Split('\n')[0];
                    log?.Invoke($"{kernel.Name,-28} {shape,-24} failed: {reason}");
                    fwd = fwdBwd = double.NaN;
                    GC.Collect();
                }
                rows.Add((kernel.Name, shape, "fwd", fwd));
                rows.Add((kernel.Name, shape, "fwd+bwd", fwdBwd));
                if (!double.IsNaN(fwd)) log?.Invoke($"{kernel.Name,-28} {shape,-24} fwd {fwd,9:F3} ms   fwd+bwd "
                    + (kernel.ForwardOnly ? "(forward only: no backward kernel)" : $"{fwdBwd,9:F3} ms"));
                // A variant that picks its own implementation says which one it ran (it may differ with gradients).
                if (kernel.Choice is { } choice)
                    log?.Invoke($"{kernel.Name,-28} {shape,-24} ran: fwd {choice(shapeInputs, false)}; "
                        + $"fwd+bwd {choice(shapeInputs, true)}");
            }
        }
        double Base(BenchShape s, string pass) => rows.First(r => r.Kernel == baseline.Name && r.Shape == s && r.Pass == pass).Ms;
        return new DataFrame(
            new StringDataFrameColumn("kernel", rows.Select(r => r.Kernel)),
            new PrimitiveDataFrameColumn<int>("T", rows.Select(r => r.Shape.T)),
            new PrimitiveDataFrameColumn<int>("B", rows.Select(r => r.Shape.B)),
            new PrimitiveDataFrameColumn<int>("H", rows.Select(r => r.Shape.H)),
            new PrimitiveDataFrameColumn<int>("D", rows.Select(r => r.Shape.D)),
            new StringDataFrameColumn("pass", rows.Select(r => r.Pass)),
            new DoubleDataFrameColumn("ms", rows.Select(r => Math.Round(r.Ms, 3))),
            new DoubleDataFrameColumn("x baseline", rows.Select(r => Math.Round(r.Ms / Base(r.Shape, r.Pass), 2))));
    }

    /// <summary>
    /// Peak device memory (MiB) one kernel reserves on one shape, beyond its inputs: growth of CUDA memory in use after a
    /// forward without gradients, then after a forward+backward. Run it in a fresh process (the caching allocator
    /// keeps what earlier kernels reserved); <c>pathnb bench --memory</c> starts one child per kernel and shape.
    /// Null off CUDA. <paramref name="inputs"/>: which inputs to draw (null = every input).
    /// </summary>
    public static (double Forward, double ForwardBackward)? PeakMemoryMiB(BenchShape shape, KernelVariant kernel, ScalarType dtype = ScalarType.BFloat16,
        KernelInputSpec? inputs = null)
    {
        var device = TorchRuntime.Device;
        if (device.type != TorchSharp.DeviceType.CUDA) return null;
        using var shapeInputs = RandomInputs(shape, inputs ?? KernelInputSpec.Everything, device, dtype);
        if (kernel.Unsupported(shapeInputs) is not null) return null;
        Sync(device);
        if (CudaMemory.UsedBytes() is not long before) return null;
        using (var s = NewDisposeScope()) using (no_grad()) kernel.Forward(shapeInputs);
        Sync(device);
        long afterForward = CudaMemory.UsedBytes() ?? before;
        const double mib = 1024.0 * 1024.0;
        if (kernel.ForwardOnly) return ((afterForward - before) / mib, double.NaN);
        using (var s = NewDisposeScope())
        {
            var o = kernel.Forward(shapeInputs);
            o.backward(new[] { ones_like(o) });
        }
        Sync(device);
        long afterBackward = CudaMemory.UsedBytes() ?? afterForward;
        return ((afterForward - before) / mib, (afterBackward - before) / mib);
    }

    /// <summary>The standard shapes: bf16, H = 16, D = 64, (T, B) = (2048, 16), (4096, 8), (8192, 4).</summary>
    public static IReadOnlyList<BenchShape> StandardShapes { get; } = new[] { new BenchShape(2048, 16), new BenchShape(4096, 8), new BenchShape(8192, 4) };

    /// <summary>Small shapes for a CPU smoke run (seconds).</summary>
    public static IReadOnlyList<BenchShape> CpuShapes { get; } = new[] { new BenchShape(256, 2, 4, 32), new BenchShape(512, 1, 4, 32) };
}
