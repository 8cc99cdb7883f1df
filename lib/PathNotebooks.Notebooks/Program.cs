using System.CommandLine;
using System.Globalization;
using PathNotebooks.Notebooks;
using PathNotebooks.Processes;

// pathnb-notebook: the notebook runner behind `pathnb notebook run` and `pathnb reproduce` (one notebook per process:
// the kernel's script assemblies and libtorch's native state cannot be unloaded).

// The kernel redirects Console.Out while a cell runs (and a timed-out cell keeps it redirected): the runner's own
// lines go to the process's standard output directly.
var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };

var notebook = new Argument<FileInfo>("notebook") { Description = "The .ipynb to execute." }.AcceptExistingOnly();
var outDir = new Option<DirectoryInfo>("--out") { Description = "Folder for the executed notebook, HTML page, run.json and tables.", Required = true };
var size = new Option<string?>("--size") { Description = "Experiment size (default: tiny on CPU, full on CUDA)." }.AcceptOnlyFromAmong("tiny", "full");
var device = new Option<string?>("--device") { Description = "Device (default auto: CUDA when usable)." }.AcceptOnlyFromAmong("auto", "cpu", "cuda");
var cellTimeout = new Option<double>("--cell-timeout") { Description = "Seconds one cell may run.", DefaultValueFactory = _ => 600 };
var torchPackage = new Option<string>("--torch-package") { Description = "TorchSharp package served for the notebooks' TorchSharp-cpu line.", DefaultValueFactory = _ => PackageSource.NotebookTorchPackage }
    .AcceptOnlyFromAmong("TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp");
var packagesFrom = new Option<DirectoryInfo?>("--packages-from") { Description = "Serve the notebooks' #r \"nuget: …\" lines from this folder (the kit and its dependencies) instead of NuGet: for machines without NuGet or a .NET SDK." };
var progress = new Option<bool>("--progress") { Description = "Print '@progress CELL CELLS FINISHED SECONDS' lines for a parent process." };

var run = new Command("run", "Execute a notebook in the .NET Interactive C# kernel.") { notebook, outDir, size, device, cellTimeout, torchPackage, packagesFrom, progress };
run.SetAction(async parse =>
{
    if (!ParentDeath.TerminateWithParent()) return 143;                   // the parent that started us is already gone
    var path = parse.GetRequiredValue(notebook).FullName;
    bool printProgress = parse.GetValue(progress);
    var result = await NotebookExecution.RunAsync(path, new NotebookRunOptions
    {
        OutputDirectory = parse.GetRequiredValue(outDir).FullName,
        Size = parse.GetValue(size),
        Device = parse.GetValue(device),
        CellTimeout = TimeSpan.FromSeconds(parse.GetValue(cellTimeout)),
        Packages = parse.GetValue(packagesFrom) is { } folder ? PackageSource.Folder(folder.FullName) : PackageSource.NuGet(parse.GetRequiredValue(torchPackage)),
        Progress = p =>
        {
            if (printProgress)
                stdout.WriteLine(FormattableString.Invariant($"@progress {p.Cell} {p.Cells} {(p.Finished ? 1 : 0)} {p.Seconds:F1}"));
        },
    });
    stdout.WriteLine(result.Succeeded
        ? $"{Path.GetFileName(path)}: ok in {result.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s → {result.HtmlPage}"
        : $"{Path.GetFileName(path)}: FAILED at cell {result.FailedCell}: {result.Error}\n  executed notebook: {result.ExecutedNotebook}");
    // A timed-out cell may still be running on a kernel thread: end the process, the results are written.
    Environment.Exit(result.Succeeded ? 0 : 1);
    return 0;
});

var notebooks = new Argument<FileInfo[]>("notebooks") { Description = "The .ipynb files to check.", Arity = ArgumentArity.OneOrMore }.AcceptExistingOnly();
var check = new Command("check", "Check that notebooks are committable: Polyglot C# metadata, no outputs.") { notebooks };
check.SetAction(parse =>
{
    int bad = 0;
    foreach (var file in parse.GetRequiredValue(notebooks))
    {
        var problems = NotebookCheck.Problems(file.FullName);
        stdout.WriteLine(problems.Count == 0 ? $"{file}: ok" : $"{file}: {string.Join("; ", problems)}");
        if (problems.Count > 0) bad++;
    }
    return bad == 0 ? 0 : 1;
});

var root = new RootCommand("pathnb-notebook — runs PathNotebooks notebooks in the .NET Interactive C# kernel") { run, check };
return await root.Parse(args).InvokeAsync();
