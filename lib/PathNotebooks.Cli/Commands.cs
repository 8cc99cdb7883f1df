using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using PathNotebooks.Benchmarks;
using PathNotebooks.Notebooks;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

static class Commands
{
    const string Usage = """
        pathnb — the PathNotebooks kit

        pathnb reproduce [--only 01,03] [--size tiny|full] [--device auto|cpu|cuda] [--out results]
            Run every notebook (or the listed ones) and write results/<notebook>/: the executed .ipynb, an HTML page,
            the experiment's CSV tables and run.json. Default size: tiny on CPU, full on CUDA.
        pathnb notebook run <nb.ipynb>... [--size tiny|full] [--device ...] [--out DIR] [--cell-timeout SECONDS]
            Execute notebooks without the (deprecated) .NET Interactive kernel.
        pathnb notebook check <nb.ipynb>...
            Check notebooks are committable: Polyglot metadata, no outputs.
        pathnb bench <name> [--device ...] [--shapes standard|cpu] [--iterations N] [--kernels TEXT] [--memory] [--out DIR]
            Time attention kernels against SDPA in the same run and print a table. Names: {BENCHES}.
            --kernels keeps only kernels whose name contains TEXT (e.g. "C=256"; the SDPA baseline always runs).
            --memory (CUDA) adds peak MiB per kernel and shape, each measured in a fresh child process.
        pathnb corpus build [--packs DIR] [--out datasets/dotnet-api-docs.txt.gz]
            Rebuild the shipped English corpus from the .NET reference packs' XML documentation (see datasets/README.md).
        pathnb info [--device ...]
            Print what the torch runtime loads (device, GPU, libtorch, native libraries) and the loader trace.
        """;

    public static async Task<int> MainAsync(string[] argv)
    {
        try
        {
            if (argv.Length == 0 || argv[0] is "-h" or "--help" or "help") { Console.WriteLine(UsageText()); return argv.Length == 0 ? 2 : 0; }
            return argv[0] switch
            {
                "reproduce" => await Reproduce.RunAsync(new Args(argv.Skip(1))),
                "notebook" when argv.Length > 1 && argv[1] == "run" => await NotebookRun(new Args(argv.Skip(2))),
                "notebook" when argv.Length > 1 && argv[1] == "check" => NotebookCheck(new Args(argv.Skip(2))),
                "bench" => await BenchAsync(new Args(argv.Skip(1), "memory")),
                "info" => Info(new Args(argv.Skip(1))),
                "corpus" when argv.Length > 1 && argv[1] == "build" => CorpusBuild(new Args(argv.Skip(2))),
                _ => throw new UsageException($"unknown command '{string.Join(' ', argv.Take(2))}'."),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"pathnb: {e.Message}\n\n{UsageText()}");
            return 2;
        }
    }

    static string UsageText() => Usage.Replace("{BENCHES}", string.Join(", ", BenchRegistry.Names));

    static async Task<int> NotebookRun(Args args)
    {
        args.AllowOnly("size", "device", "out", "cell-timeout");
        if (args.Positional.Count == 0) throw new UsageException("notebook run needs at least one .ipynb path.");
        var size = args.Choice("size", "tiny", "full");
        var device = args.Choice("device", "auto", "cpu", "cuda");
        var timeout = args.Get("cell-timeout") is { } t ? TimeSpan.FromSeconds(double.Parse(t, CultureInfo.InvariantCulture)) : TimeSpan.FromMinutes(10);
        var outRoot = args.Get("out") ?? "results";
        foreach (var nb in args.Positional)
            if (!File.Exists(nb)) throw new UsageException($"notebook not found: {nb}");

        if (args.Positional.Count > 1)
        {
            // Several notebooks: one process each (script assemblies and libtorch state cannot be unloaded).
            int failures = 0;
            foreach (var nb in args.Positional)
            {
                var outDir = Path.Combine(outRoot, Path.GetFileNameWithoutExtension(nb));
                var child = new List<string> { "notebook", "run", nb, "--out", outDir, "--cell-timeout", timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) };
                if (size != null) child.AddRange(new[] { "--size", size });
                if (device != null) child.AddRange(new[] { "--device", device });
                failures += await SelfProcess.RunAsync(child, line => Console.WriteLine(line)) == 0 ? 0 : 1;
            }
            return failures == 0 ? 0 : 1;
        }

        var nbPath = args.Positional[0];
        var outFolder = args.Get("out") ?? Path.Combine("results", Path.GetFileNameWithoutExtension(nbPath));
        TorchRuntime.Initialize(device);
        bool progressLines = Environment.GetEnvironmentVariable("PATHNB_PROGRESS") == "1";
        var result = await NotebookRunner.RunAsync(nbPath, new NotebookRunOptions
        {
            OutputDirectory = outFolder, Size = size, Device = device, CellTimeout = timeout,
            Progress = p =>
            {
                if (progressLines) Console.WriteLine($"@progress {p.Cell} {p.Cells} {(p.Finished ? 1 : 0)} {p.Seconds.ToString("F1", CultureInfo.InvariantCulture)}");
            },
        });
        Console.WriteLine(result.Succeeded
            ? $"{Path.GetFileName(nbPath)}: ok in {result.Seconds:F1} s → {result.HtmlPage}"
            : $"{Path.GetFileName(nbPath)}: FAILED at cell {result.FailedCell}: {result.Error}\n  executed notebook: {result.ExecutedNotebook}");
        return result.Succeeded ? 0 : 1;
    }

    static int NotebookCheck(Args args)
    {
        args.AllowOnly();
        if (args.Positional.Count == 0) throw new UsageException("notebook check needs at least one .ipynb path.");
        int bad = 0;
        foreach (var nb in args.Positional)
        {
            var problems = NotebookDocument.Load(nb).CommitProblems();
            Console.WriteLine(problems.Count == 0 ? $"{nb}: ok" : $"{nb}: {string.Join("; ", problems)}");
            if (problems.Count > 0) bad++;
        }
        return bad == 0 ? 0 : 1;
    }

    static async Task<int> BenchAsync(Args args)
    {
        args.AllowOnly("device", "shapes", "iterations", "kernels", "out", "memory", "probe", "probe-shape");
        if (args.Positional.Count != 1) throw new UsageException($"bench needs one name: {string.Join(", ", BenchRegistry.Names)}.");
        var name = args.Positional[0];
        var kernels = BenchRegistry.Get(name) ?? throw new UsageException($"unknown benchmark '{name}' (known: {string.Join(", ", BenchRegistry.Names)}).");
        var info = TorchRuntime.Initialize(args.Choice("device", "auto", "cpu", "cuda"));
        var dtype = info.IsCuda ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;   // CPU bf16 matmuls are emulated
        var all = new[] { AttentionBenchmark.Sdpa }.Concat(kernels()).ToList();
        if (args.Get("probe") is { } probe) return MemoryProbe(all, probe, args.Get("probe-shape"), dtype);

        var shapesName = args.Choice("shapes", "standard", "cpu") ?? (info.IsCuda ? "standard" : "cpu");
        var shapes = shapesName == "standard" ? AttentionBenchmark.StandardShapes : AttentionBenchmark.CpuShapes;
        int iterations = int.Parse(args.Get("iterations") ?? (info.IsCuda ? "20" : "3"), CultureInfo.InvariantCulture);
        Console.WriteLine($"bench {name}: {info.Device}{(info.GpuName != null ? $" ({info.GpuName})" : "")}, {dtype}, {iterations} timed runs after 2 warm-ups, shapes: {string.Join("; ", shapes)}");
        var selected = kernels().Where(k => args.Get("kernels") is not { } f || k.Name.Contains(f, StringComparison.OrdinalIgnoreCase)).ToList();
        if (kernels().Count > 0 && selected.Count == 0)
            throw new UsageException($"--kernels '{args.Get("kernels")}' matches none of: {string.Join(", ", kernels().Select(k => k.Name))}.");
        var table = AttentionBenchmark.Run(shapes, selected, dtype: dtype, iterations: iterations, log: Console.WriteLine);
        if (args.Flag("memory"))
        {
            if (!info.IsCuda) throw new UsageException("--memory measures CUDA memory; run it on a GPU.");
            table = await AddPeakMemoryAsync(table, name, args.Get("device"));
        }
        Console.WriteLine();
        Console.WriteLine(OutputFormatter.TableText(table));
        var outDir = args.Get("out") ?? Path.Combine("results", "bench");
        Directory.CreateDirectory(outDir);
        var csv = PathNotebooks.IO.AtomicFile.Write(Path.Combine(outDir, $"{name}-{info.Device}.csv"), tmp =>
            DataFrame.SaveCsv(table, tmp, ',', true, new UTF8Encoding(false), CultureInfo.InvariantCulture));
        Console.WriteLine($"device: {info.Device}{(info.GpuName != null ? $" ({info.GpuName})" : "")}; table written to {csv}");
        return 0;
    }

    const string PeakPrefix = "peak-mib ";

    /// <summary>Child side of --memory: one kernel, one shape, in this fresh process; prints "peak-mib FWD FWDBWD".</summary>
    static int MemoryProbe(IReadOnlyList<BenchKernel> all, string kernelName, string? shapeText, TorchSharp.torch.ScalarType dtype)
    {
        var kernel = all.FirstOrDefault(k => k.Name == kernelName) ?? throw new UsageException($"--probe: no kernel named '{kernelName}'.");
        var parts = (shapeText ?? throw new UsageException("--probe needs --probe-shape T,B,H,D.")).Split(',').Select(int.Parse).ToArray();
        if (parts.Length != 4) throw new UsageException("--probe-shape must be T,B,H,D.");
        var peak = AttentionBenchmark.PeakMemoryMiB(new BenchShape(parts[0], parts[1], parts[2], parts[3]), kernel, dtype);
        if (peak is not { } p) { Console.WriteLine("peak memory is not measurable here"); return 1; }
        Console.WriteLine(FormattableString.Invariant($"{PeakPrefix}{p.Forward:F1} {p.ForwardBackward:F1}"));
        return 0;
    }

    /// <summary>Adds a "peak MiB" column: one child process per (kernel, shape), so no kernel inherits another's cache.</summary>
    static async Task<DataFrame> AddPeakMemoryAsync(DataFrame table, string bench, string? device)
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
                int exit = await SelfProcess.RunAsync(new[] { "bench", bench, "--probe", kernel, "--probe-shape", shape, "--device", device ?? "cuda" }, lines.Add);
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

    static int CorpusBuild(Args args)
    {
        args.AllowOnly("packs", "out");
        var packs = args.Get("packs") ?? PathNotebooks.Data.CorpusBuilder.DefaultPacksRoot;
        var repo = Path.GetDirectoryName(Reproduce.FindNotebooksFolder()) ?? Directory.GetCurrentDirectory();
        var output = args.Get("out") ?? Path.Combine(repo, "datasets", PathNotebooks.Data.TextCorpus.FileName);
        var info = PathNotebooks.Data.CorpusBuilder.Build(packs, output);
        Console.WriteLine(info);
        return 0;
    }

    static int Info(Args args)
    {
        args.AllowOnly("device");
        var info = TorchRuntime.Initialize(args.Choice("device", "auto", "cpu", "cuda"));
        Console.WriteLine($"size default: {(info.IsCuda ? "full" : "tiny")}");
        Console.WriteLine("loader trace:");
        Console.WriteLine(TorchRuntime.LoadTrace);
        return 0;
    }
}
