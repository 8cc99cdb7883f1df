using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Runtime;
using static TorchSharp.torch;

namespace PathNotebooks.Benchmarks;

/// <summary>One benchmark shape: <c>[B, H, T, D]</c> attention inputs.</summary>
public sealed record BenchShape(int T, int B, int H = 16, int D = 64)
{
    public override string ToString() => $"T={T} B={B} H={H} D={D}";
}

/// <summary>
/// Random inputs for one shape, all with gradients: q, k, v <c>[B, H, T, D]</c> in the benchmark dtype; PaTH's
/// w <c>[B, H, T, D]</c> (unit rows) and β <c>[B, H, T]</c>, FoX's log forget gate <c>[B, H, T]</c>, all float32 (as the
/// reference kernels require).
/// </summary>
public sealed record BenchInputs(Tensor Q, Tensor K, Tensor V, Tensor W, Tensor Beta, Tensor LogForget) : IDisposable
{
    public Tensor[] All => new[] { Q, K, V, W, Beta, LogForget };

    public static BenchInputs Random(BenchShape s, Device device, ScalarType dtype, int seed = 0)
    {
        manual_seed(seed);
        using var scope = NewDisposeScope();
        Tensor Leaf(Tensor t) => t.detach().requires_grad_(true).MoveToOuterDisposeScope();
        var q = randn(s.B, s.H, s.T, s.D, device: device).to(dtype);
        var k = randn(s.B, s.H, s.T, s.D, device: device).to(dtype);
        var v = randn(s.B, s.H, s.T, s.D, device: device).to(dtype);
        var w = nn.functional.normalize(randn(s.B, s.H, s.T, s.D, device: device), p: 2, dim: -1);
        var beta = 2 * rand(s.B, s.H, s.T, device: device).sigmoid();
        var logf = nn.functional.logsigmoid(randn(s.B, s.H, s.T, device: device) + 4);   // f ≈ 0.98: mild forgetting
        return new BenchInputs(Leaf(q), Leaf(k), Leaf(v), Leaf(w), Leaf(beta), Leaf(logf));
    }

    public void Dispose() { foreach (var t in All) t.Dispose(); }
}

/// <summary>A kernel under test: maps the inputs to the attention output <c>[B, H, T, D]</c>.</summary>
public sealed record BenchKernel(string Name, Func<BenchInputs, Tensor> Forward);

/// <summary>
/// Times attention kernels forward and forward+backward against a baseline in the same run and prints ratios.
/// Never used as a test: wall time is measured here, not asserted.
/// </summary>
public static class AttentionBenchmark
{
    /// <summary>Fused causal SDPA, the baseline every table is divided by.</summary>
    public static BenchKernel Sdpa { get; } = new("sdpa (causal)", i => nn.functional.scaled_dot_product_attention(i.Q, i.K, i.V, is_casual: true));

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

    static void Sync(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
    }

    /// <summary>
    /// Runs every kernel on every shape (fwd, then fwd+bwd with a unit upstream gradient) and returns one row per
    /// (kernel, shape, pass) with the ratio to <paramref name="baseline"/> of the same shape and pass. A kernel that fails
    /// on a shape (e.g. out of GPU memory) gets NaN there and the run goes on.
    /// </summary>
    public static DataFrame Run(IReadOnlyList<BenchShape> shapes, IReadOnlyList<BenchKernel> kernels, BenchKernel? baseline = null,
        ScalarType dtype = ScalarType.BFloat16, int warmup = 2, int iterations = 10, Action<string>? log = null)
    {
        baseline ??= Sdpa;
        var device = TorchRuntime.Device;
        var all = new[] { baseline }.Concat(kernels.Where(k => k.Name != baseline.Name)).ToList();
        var rows = new List<(string Kernel, BenchShape Shape, string Pass, double Ms)>();
        foreach (var shape in shapes)
        {
            using var inputs = BenchInputs.Random(shape, device, dtype);
            foreach (var kernel in all)
            {
                double fwd, fwdBwd;
                try
                {
                    fwd = TimeMs(() => { using var s = NewDisposeScope(); using var _ = no_grad(); kernel.Forward(inputs); }, device, warmup, iterations);
                    fwdBwd = TimeMs(() =>
                    {
                        using var s = NewDisposeScope();
                        foreach (var t in inputs.All) t.grad?.zero_();
                        var o = kernel.Forward(inputs);
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
                if (!double.IsNaN(fwd)) log?.Invoke($"{kernel.Name,-28} {shape,-24} fwd {fwd,9:F3} ms   fwd+bwd {fwdBwd,9:F3} ms");
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
    /// Null off CUDA.
    /// </summary>
    public static (double Forward, double ForwardBackward)? PeakMemoryMiB(BenchShape shape, BenchKernel kernel, ScalarType dtype = ScalarType.BFloat16)
    {
        var device = TorchRuntime.Device;
        if (device.type != TorchSharp.DeviceType.CUDA) return null;
        using var inputs = BenchInputs.Random(shape, device, dtype);
        Sync(device);
        if (CudaMemory.UsedBytes() is not long before) return null;
        using (var s = NewDisposeScope()) using (no_grad()) kernel.Forward(inputs);
        Sync(device);
        long afterForward = CudaMemory.UsedBytes() ?? before;
        using (var s = NewDisposeScope())
        {
            var o = kernel.Forward(inputs);
            o.backward(new[] { ones_like(o) });
        }
        Sync(device);
        long afterBackward = CudaMemory.UsedBytes() ?? afterForward;
        const double mib = 1024.0 * 1024.0;
        return ((afterForward - before) / mib, (afterBackward - before) / mib);
    }

    /// <summary>The standard shapes: bf16, H = 16, D = 64, (T, B) = (2048, 16), (4096, 8), (8192, 4).</summary>
    public static IReadOnlyList<BenchShape> StandardShapes { get; } = new[] { new BenchShape(2048, 16), new BenchShape(4096, 8), new BenchShape(8192, 4) };

    /// <summary>Small shapes for a CPU smoke run (seconds).</summary>
    public static IReadOnlyList<BenchShape> CpuShapes { get; } = new[] { new BenchShape(256, 2, 4, 32), new BenchShape(512, 1, 4, 32) };
}
