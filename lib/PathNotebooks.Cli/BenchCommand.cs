using System.Globalization;
using Microsoft.Data.Analysis;
using PathNotebooks.Benchmarks;
using PathNotebooks.IO;
using PathNotebooks.Kernels;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb bench NAME`.</summary>
/// <param name="Probe">Internal: the --memory child measures this one kernel on <paramref name="ProbeShape"/> (T,B,H,D).</param>
sealed record BenchOptions(string Name, string? Device, string? Shapes, int? Iterations, string? Kernels, bool Memory, string? Out,
                           string? Probe = null, string? ProbeShape = null);

/// <summary>`pathnb bench NAME`: times attention kernels against SDPA in the same run and prints a table.</summary>
static class BenchCommand
{
    const string PeakPrefix = "peak-mib ";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var name = options.Name;
        var bench = BenchRegistry.Get(name) ?? throw new UsageException($"unknown benchmark '{name}' (known: {string.Join(", ", BenchRegistry.Names)}).");
        var info = TorchRuntime.Initialize(options.Device);
        var dtype = info.IsCuda ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;   // CPU bf16 matmuls are emulated
        var all = new[] { AttentionBenchmark.Sdpa }.Concat(bench.Kernels).ToList();
        if (options.Probe is { } probe) return MemoryProbe(all, bench.Inputs, probe, options.ProbeShape, dtype);

        var shapesName = options.Shapes ?? (info.IsCuda ? "standard" : "cpu");
        var shapes = shapesName == "standard" ? AttentionBenchmark.StandardShapes : AttentionBenchmark.CpuShapes;
        int iterations = options.Iterations ?? (info.IsCuda ? 20 : 3);
        Console.WriteLine($"bench {name}: {info.Device}{(info.GpuName != null ? $" ({info.GpuName})" : "")}, {dtype}, {iterations} timed runs after 2 warm-ups, shapes: {string.Join("; ", shapes)}");
        var selected = bench.Kernels.Where(k => options.Kernels is not { } f || k.Name.Contains(f, StringComparison.OrdinalIgnoreCase)).ToList();
        if (bench.Kernels.Count > 0 && selected.Count == 0)
            throw new UsageException($"--kernels '{options.Kernels}' matches none of: {string.Join(", ", bench.Kernels.Select(k => k.Name))}.");
        var table = AttentionBenchmark.Run(shapes, selected, dtype: dtype, iterations: iterations, log: Console.WriteLine, inputs: bench.Inputs);
        if (options.Memory)
        {
            if (!info.IsCuda) throw new UsageException("--memory measures CUDA memory; run it on a GPU.");
            using var interruption = Interruption.Watch();   // a signal kills the probe child too
            try { table = await AddPeakMemoryAsync(table, name, options.Device, interruption.Token); }
            catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested) { return interruption.ExitCode; }
        }
        Console.WriteLine();
        Console.WriteLine(TextTable.Format(table));
        var outDir = options.Out ?? Path.Combine("results", "bench");
        Directory.CreateDirectory(outDir);
        var csv = CsvTable.Write(table, Path.Combine(outDir, $"{name}-{info.Device}.csv"));
        Console.WriteLine($"device: {info.Device}{(info.GpuName != null ? $" ({info.GpuName})" : "")}; table written to {csv}");
        if (name == "gdn")
        {
            // Notebook 05's training time is set by its small models' steps, not by the kernel at these shapes: time them too.
            var sizes = info.IsCuda ? Experiments.HybridRecallSettings.Full : Experiments.HybridRecallSettings.Tiny;
            Console.WriteLine($"training steps of notebook 05's models ({(info.IsCuda ? "full" : "tiny")} size: d = {sizes.DModel}, L = {sizes.TrainLength}, " +
                $"batch {sizes.BatchSize}, float32), alone and with several runs at once");
            var steps = Benchmarks.TrainingStepBenchmark.Run(sizes, info.IsCuda ? TorchSharp.torch.CUDA : TorchSharp.torch.CPU,
                steps: info.IsCuda ? 30 : 3, warmup: info.IsCuda ? 5 : 1, concurrency: info.IsCuda ? new[] { 4, 8, 12 } : new[] { 2 }, log: Console.WriteLine);
            Console.WriteLine();
            Console.WriteLine(TextTable.Format(steps));
            Console.WriteLine($"training-step table written to {CsvTable.Write(steps, Path.Combine(outDir, $"gdn-training-steps-{info.Device}.csv"))}");
        }
        if (name == "lte")
        {
            // LTE's point is decoding with a fixed cache: time it against a full KV cache in the same run.
            var contexts = shapesName == "standard" ? new[] { 1024, 4096 } : new[] { 256, 1024 };
            Console.WriteLine($"decode: one layer, H = 16, D = 64, B = 8, {dtype}, token by token from an empty cache to {string.Join(" and ", contexts)} tokens");
            var decode = DecodeBenchmark.Run(contexts, batch: 8, heads: 16, headDim: 64, info.IsCuda ? TorchSharp.torch.CUDA : TorchSharp.torch.CPU, dtype, Console.WriteLine);
            Console.WriteLine();
            Console.WriteLine(TextTable.Format(decode));
            Console.WriteLine($"decode table written to {CsvTable.Write(decode, Path.Combine(outDir, $"lte-decode-{info.Device}.csv"))}");
        }
        return 0;
    }

    /// <summary>Child side of --memory: one kernel, one shape, in this fresh process; prints "peak-mib FWD FWDBWD".</summary>
    static int MemoryProbe(IReadOnlyList<KernelVariant> all, KernelInputSpec inputs, string kernelName, string? shapeText, TorchSharp.torch.ScalarType dtype)
    {
        var kernel = all.FirstOrDefault(k => k.Name == kernelName) ?? throw new UsageException($"--probe: no kernel named '{kernelName}'.");
        var parts = (shapeText ?? throw new UsageException("--probe needs --probe-shape T,B,H,D.")).Split(',').Select(int.Parse).ToArray();
        if (parts.Length != 4) throw new UsageException("--probe-shape must be T,B,H,D.");
        var peak = AttentionBenchmark.PeakMemoryMiB(new BenchShape(parts[0], parts[1], parts[2], parts[3]), kernel, dtype, inputs);
        if (peak is not { } p) { Console.WriteLine("peak memory is not measurable here"); return 1; }
        Console.WriteLine(FormattableString.Invariant($"{PeakPrefix}{p.Forward:F1} {p.ForwardBackward:F1}"));
        return 0;
    }

    /// <summary>Adds a "peak MiB" column: one child process per (kernel, shape), so no kernel inherits another's cache.</summary>
    static async Task<DataFrame> AddPeakMemoryAsync(DataFrame table, string bench, string? device, CancellationToken cancel)
    {
        var kernelCol = (StringDataFrameColumn)table["kernel"];
        var passCol = (StringDataFrameColumn)table["pass"];
        var peaks = new double[table.Rows.Count];
        var cache = new Dictionary<(string, string), (double, double)>();
        for (int r = 0; r < table.Rows.Count; r++)
        {
            string kernel = kernelCol[r];
            string shape = string.Join(',', new[] { "T", "B", "H", "D" }.Select(c => Convert.ToString(table[c][r], CultureInfo.InvariantCulture)));
            if (!cache.TryGetValue((kernel, shape), out var peak))
            {
                peak = (double.NaN, double.NaN);
                var lines = new List<string>();
                var probe = ChildStart.Self(["bench", bench, "--probe", kernel, "--probe-shape", shape, "--device", device ?? "cuda"]);
                int exit = await ChildProcess.RunAsync(probe, lines.Add, cancel);
                var hit = lines.FirstOrDefault(l => l.StartsWith(PeakPrefix, StringComparison.Ordinal));
                if (exit == 0 && hit != null)
                {
                    var v = hit[PeakPrefix.Length..].Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
                    peak = (v[0], v[1]);
                }
                Console.WriteLine(exit == 0 && hit != null
                    ? FormattableString.Invariant($"{kernel,-28} {shape,-16} peak {peak.Item1,9:F0} MiB fwd, {peak.Item2,9:F0} MiB fwd+bwd")
                    : $"{kernel,-28} {shape,-16} peak memory not measured (child exit {exit}: {lines.LastOrDefault(l => l.Length > 0) ?? "no output"})");
                cache[(kernel, shape)] = peak;
            }
            peaks[r] = Math.Round(passCol[r] == "fwd" ? peak.Item1 : peak.Item2, 0);
        }
        table.Columns.Add(new DoubleDataFrameColumn("peak MiB", peaks));
        return table;
    }
}
