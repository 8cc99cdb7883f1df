using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;

namespace PathNotebooks.Cli;

/// <summary>
/// The command line of `pathnb`: verbs, options and their validation. Each verb only turns the parse result into
/// its plain options record and hands it to the class that does the work.
/// </summary>
static class Commands
{
    /// <summary>What users type: the script at the repository root.</summary>
    public const string ProgramName = "./pathnb";

    /// <summary>Shows stack traces of failures (global).</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show the stack trace when a command fails.", Recursive = true };

    /// <remarks>
    /// The root is a plain <see cref="Command"/> named <see cref="ProgramName"/> rather than a RootCommand, whose name is
    /// the assembly's: so help says `./pathnb reproduce [options]`, what a user types.
    /// </remarks>
    public static Command Build()
    {
        var root = new Command(ProgramName, "pathnb — the PathNotebooks kit: run the notebooks, benchmark the kernels, inspect the runtime.")
        {
            Reproduce(), Notebook(), Bench(), Check(), Corpus(), Info(),
        };
        root.Options.Add(new HelpOption());
        root.Options.Add(Verbose);
        return root;
    }

    static Command Reproduce()
    {
        var only = new Option<string>("--only") { Description = "Run only the notebooks whose file names start with one of these comma-separated prefixes, e.g. 01,03.", HelpName = "PREFIXES" };
        var size = SizeOption();
        var device = DeviceOption();
        var output = new Option<string>("--out") { Description = "Results folder (default: results/ next to the notebooks folder).", HelpName = "DIR" };
        var timeout = CellTimeoutOption();
        var notebooks = new Option<string>("--notebooks") { Description = "Folder of .ipynb files (default: notebooks/ of the repository).", HelpName = "DIR" };
        notebooks.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } dir && !Directory.Exists(dir)) r.AddError($"--notebooks: no folder {dir}.");
        });
        var packages = PackagesFromOption();
        var command = new Command("reproduce",
            "Run every notebook (or the listed ones) and write results/<notebook>/: the executed .ipynb, an HTML page, " +
            "the experiment's CSV tables and run.json. Default size: tiny on CPU, full on CUDA.")
        { only, size, device, output, timeout, notebooks, packages };
        command.SetAction(parse => PathNotebooks.Cli.Reproduce.RunAsync(new ReproduceOptions(
            parse.GetValue(only), parse.GetValue(size), parse.GetValue(device), parse.GetValue(output),
            parse.GetValue(timeout), parse.GetValue(notebooks), parse.GetValue(packages))));
        return command;
    }

    static Command Notebook()
    {
        var runFiles = NotebookFilesArgument();
        var size = SizeOption();
        var device = DeviceOption();
        var output = new Option<string>("--out") { Description = "Results folder (one notebook: the folder itself, default results/<notebook>; several: one subfolder each).", HelpName = "DIR" };
        var timeout = CellTimeoutOption();
        var packages = PackagesFromOption();
        var run = new Command("run", "Execute notebooks in the .NET Interactive C# kernel (in process; packages restored from NuGet, as in VS Code or Jupyter).") { runFiles, size, device, output, timeout, packages };
        run.SetAction(parse => NotebookRunCommand.RunAsync(new NotebookRunRequest(
            parse.GetValue(runFiles)!, parse.GetValue(size), parse.GetValue(device), parse.GetValue(output),
            TimeSpan.FromSeconds(parse.GetValue(timeout) ?? 600), parse.GetValue(packages))));

        var checkFiles = NotebookFilesArgument();
        var check = new Command("check", "Check notebooks are committable: Polyglot metadata, no outputs.") { checkFiles };
        check.SetAction(parse => NotebookCheckCommand.RunAsync(new NotebookCheckOptions(parse.GetValue(checkFiles)!)));

        return new Command("notebook", "Run or check single notebooks.") { run, check };
    }

    static Command Bench()
    {
        var name = new Argument<string>("name") { Description = $"Which kernels to compare with SDPA: {string.Join(", ", BenchRegistry.Names)}." };
        AcceptOnly(name, "benchmark", BenchRegistry.Names.ToArray());
        var device = DeviceOption();
        var shapes = new Option<string>("--shapes") { Description = "Shape set (default: standard on CUDA, cpu on the CPU).", HelpName = "standard|cpu" };
        AcceptOnly(shapes, "standard", "cpu");
        var iterations = new Option<int?>("--iterations")
        {
            Description = "Timed runs per kernel and shape, after 2 warm-ups (default: 20 on CUDA, 3 on the CPU).", HelpName = "N",
            CustomParser = r => Positive<int>(r, "--iterations", "a whole number", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null),
        };
        var kernels = new Option<string>("--kernels") { Description = "Keep only kernels whose name contains TEXT, e.g. \"C=256\" (the SDPA baseline always runs).", HelpName = "TEXT" };
        var memory = new Option<bool>("--memory") { Description = "(CUDA) Add peak MiB per kernel and shape, each measured in a fresh child process." };
        var output = new Option<string>("--out") { Description = "Folder for the CSV table (default: results/bench).", HelpName = "DIR" };
        // Internal: the child side of --memory.
        var probe = new Option<string>("--probe") { Hidden = true };
        var probeShape = new Option<string>("--probe-shape") { Hidden = true };
        var command = new Command("bench", "Time attention kernels against SDPA in the same run and print a table.")
        { name, device, shapes, iterations, kernels, memory, output, probe, probeShape };
        command.SetAction(parse => BenchCommand.RunAsync(new BenchOptions(
            parse.GetValue(name)!, parse.GetValue(device), parse.GetValue(shapes), parse.GetValue(iterations), parse.GetValue(kernels),
            parse.GetValue(memory), parse.GetValue(output), parse.GetValue(probe), parse.GetValue(probeShape))));
        return command;
    }

    static Command Check()
    {
        var device = DeviceOption();
        var only = new Option<string>("--only") { Description = "Run only the properties whose names contain one of these comma-separated texts, e.g. \"gdn,registry path\".", HelpName = "TEXTS" };
        var cases = new Option<int?>("--cases")
        {
            Description = $"Random cases per property (default {PathNotebooks.Checks.PropertyBudget.Default.Cases}).", HelpName = "N",
            CustomParser = r => Positive<int>(r, "--cases", "a whole number", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null),
        };
        var seconds = new Option<int?>("--seconds")
        {
            Description = $"Time cap per property: no new cases after it (default {PathNotebooks.Checks.PropertyBudget.Default.Seconds:F0}).", HelpName = "S",
            CustomParser = r => Positive<int>(r, "--seconds", "a whole number", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null),
        };
        var seed = new Option<string>("--seed") { Description = "Replay: the seed a failure printed (use with --only naming that property).", HelpName = "SEED" };
        var ops = new Command("ops",
            "Fuzz every public op against its float64 reference (CsCheck): random shapes, dtypes (float64/float32 on the CPU; float32, bfloat16, " +
            "float16 on CUDA), value scales and edge values. Failures are shrunk to a small case and printed with a replay seed.")
        { device, only, cases, seconds, seed };
        ops.SetAction(parse => CheckOpsCommand.Run(new CheckOpsOptions(parse.GetValue(device), parse.GetValue(only), parse.GetValue(cases),
            parse.GetValue(seconds), parse.GetValue(seed))));
        var kernelSeed = new Option<int>("--seed") { Description = "Seed of the random inputs (default 0).", HelpName = "SEED", DefaultValueFactory = _ => 0 };
        var compileOnly = new Option<bool>("--compile-only")
        {
            Description = "Only compile every CUDA source with NVRTC (no GPU or driver needed) for sm_80 and sm_90 and check that each defines " +
                "every entry point its wrapper launches.",
        };
        var kernels = new Command("kernels",
            "Compile the fused CUDA kernels (NVRTC) and check each against its float64 reference: attention (causal, FoX bias and sliding window, " +
            "forward and gradients, bf16 and fp16, D = 64 and 128) and the gated delta rule's forward (float32, bf16, fp16), odd lengths, " +
            "outputs poisoned with NaN. Needs a CUDA GPU, except with --compile-only.")
        { kernelSeed, compileOnly };
        kernels.SetAction(parse => CheckKernelsCommand.Run(new CheckKernelsOptions(parse.GetValue(kernelSeed), parse.GetValue(compileOnly))));
        return new Command("check", "Check the kit itself.") { ops, kernels };
    }

    static Command Corpus()
    {
        var packs = new Option<string>("--packs") { Description = "Root of the .NET reference packs (default: the installed SDK's packs).", HelpName = "DIR" };
        var output = new Option<string>("--out") { Description = "Corpus file to write (default: datasets/dotnet-api-docs.txt.gz).", HelpName = "FILE" };
        var build = new Command("build", "Rebuild the shipped English corpus from the .NET reference packs' XML documentation (see datasets/README.md).") { packs, output };
        build.SetAction(parse => CorpusBuildCommand.Run(new CorpusBuildOptions(parse.GetValue(packs), parse.GetValue(output))));
        return new Command("corpus", "Build the text corpus the language-model notebooks train on.") { build };
    }

    static Command Info()
    {
        var device = DeviceOption();
        var command = new Command("info", "Print what the torch runtime loads (device, GPU, libtorch, native libraries) and the loader trace.") { device };
        command.SetAction(parse => InfoCommand.Run(new InfoOptions(parse.GetValue(device))));
        return command;
    }

    static Option<string> SizeOption()
    {
        var size = new Option<string>("--size") { Description = "Experiment size (default: tiny on the CPU, full on CUDA).", HelpName = "tiny|full" };
        AcceptOnly(size, "tiny", "full");
        return size;
    }

    static Option<string> DeviceOption()
    {
        var device = new Option<string>("--device") { Description = "Where torch runs (default: auto, CUDA when there is a GPU).", HelpName = "auto|cpu|cuda" };
        AcceptOnly(device, "auto", "cpu", "cuda");
        return device;
    }

    static Option<string> PackagesFromOption()
    {
        var option = new Option<string>("--packages-from")
        {
            Description = "Serve the notebooks' #r \"nuget: …\" lines from this folder (the kit and its dependencies) instead of NuGet, " +
                          "on machines without NuGet or a .NET SDK (the GPU bundle's run.sh passes it).",
            HelpName = "DIR",
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } dir && !File.Exists(Path.Combine(dir, "TorchSharp.dll"))) r.AddError($"--packages-from: {dir} holds no TorchSharp.dll.");
        });
        return option;
    }

    static Option<double?> CellTimeoutOption()
    {
        return new Option<double?>("--cell-timeout")
        {
            Description = "Fail a cell that runs longer than this (default: 600).", HelpName = "SECONDS",
            CustomParser = r => Positive<double>(r, "--cell-timeout", "a number of seconds", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : null),
        };
    }

    static Argument<string[]> NotebookFilesArgument()
    {
        var files = new Argument<string[]>("nb.ipynb") { Description = "The notebooks to run or check.", Arity = ArgumentArity.OneOrMore };
        files.Validators.Add(r =>
        {
            foreach (var f in r.GetValueOrDefault<string[]>() ?? [])
                if (!File.Exists(f)) { r.AddError($"notebook not found: {f}"); return; }
        });
        return files;
    }

    // Our parser instead of the default conversion, whose message names a CLR type ("System.Nullable`1[System.Int32]").
    static T? Positive<T>(ArgumentResult result, string option, string what, Func<string, T?> parse) where T : struct, IComparable<T>
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (parse(text) is { } value && value.CompareTo(default) > 0) return value;
        result.AddError($"{option} must be {what} above 0, not '{text}'.");
        return null;
    }

    // The parser's own AcceptOnlyFromAmong message spans several lines; ours is one.
    static void AcceptOnly(Option<string> option, params string[] allowed) =>
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } v && !allowed.Contains(v))
                r.AddError($"{option.Name} must be one of {string.Join(" | ", allowed)}, not '{v}'.");
        });

    static void AcceptOnly(Argument<string> argument, string what, params string[] allowed) =>
        argument.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } v && !allowed.Contains(v))
                r.AddError($"unknown {what} '{v}' (known: {string.Join(", ", allowed)}).");
        });
}
