using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using PathNotebooks.IO;
using PathNotebooks.Runtime;

namespace PathNotebooks.Notebooks;

/// <summary>How to run a notebook.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>Folder for the executed notebook, its HTML page, run.json and the result tables.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>"tiny" or "full"; null = the kit's default for the device.</summary>
    public string? Size { get; init; }
    /// <summary>"auto", "cpu" or "cuda"; null = PATHNB_DEVICE or auto.</summary>
    public string? Device { get; init; }
    /// <summary>Longest time one cell may run before the notebook is stopped.</summary>
    public TimeSpan CellTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Called with progress lines (cell started/finished).</summary>
    public Action<NotebookProgress>? Progress { get; init; }
}

/// <summary>Progress of a run: cell <see cref="Cell"/> (1-based) of <see cref="Cells"/>.</summary>
public sealed record NotebookProgress(string Notebook, int Cell, int Cells, bool Finished, double Seconds);

/// <summary>Wall time and status of one cell.</summary>
public sealed record CellTiming(int Cell, string Type, double Seconds, bool Succeeded);

/// <summary>What a run produced.</summary>
public sealed record NotebookRunResult(
    string Notebook, bool Succeeded, int? FailedCell, string? Error, IReadOnlyList<CellTiming> Cells,
    string ExecutedNotebook, string HtmlPage, string RunJson, double Seconds);

/// <summary>
/// Executes the C# cells of a Polyglot .ipynb in order, in one Roslyn scripting session (RunAsync for the first
/// cell, ContinueWithAsync for the next — what the .NET Interactive C# kernel did), and writes the executed
/// notebook, a self-contained HTML page and run.json. A failing cell stops the notebook and is recorded as an error
/// output naming the cell.
/// </summary>
public static class NotebookRunner
{
    /// <summary>The kernel's default imports, plus the runner's Display() extension.</summary>
    public static readonly string[] DefaultImports =
    {
        "System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq",
        "PathNotebooks.Notebooks.Kernel",
    };

    static readonly object RunGate = new();

    public static async Task<NotebookRunResult> RunAsync(string notebookPath, NotebookRunOptions options)
    {
        notebookPath = Path.GetFullPath(notebookPath);
        if (!File.Exists(notebookPath)) throw new FileNotFoundException($"notebook not found: {notebookPath}", notebookPath);
        var outDir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        var name = Path.GetFileNameWithoutExtension(notebookPath);
        var source = NotebookDocument.Load(notebookPath);
        var executed = source.Clone();

        // What the notebook reads through Kit: device, size and where its tables go.
        if (options.Device != null) Environment.SetEnvironmentVariable("PATHNB_DEVICE", options.Device);
        if (options.Size != null) Environment.SetEnvironmentVariable("PATHNB_SIZE", options.Size);
        Environment.SetEnvironmentVariable("PATHNB_OUT", outDir);

        var globals = new NotebookGlobals();
        var scriptOptions = ScriptOptions.Default
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithReferences(FrameworkReferences().Concat(KitReferences()))
            .WithImports(DefaultImports)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(Path.GetDirectoryName(notebookPath)!))
            .WithSourceResolver(new SourceFileResolver(ImmutableArrayOf<string>(), Path.GetDirectoryName(notebookPath)!))
            .WithFilePath(notebookPath)
            .WithEmitDebugInformation(false);

        var timings = new List<CellTiming>();
        var clock = Stopwatch.StartNew();
        ScriptState<object>? state = null;
        int? failedCell = null;
        string? error = null;
        int executionCount = 0;
        var cells = executed.Cells;

        for (int i = 0; i < cells.Count && failedCell == null; i++)
        {
            var cell = cells[i];
            int number = i + 1;
            if (cell.CellType != "code") continue;
            cell.Json["outputs"] = new JsonArray();
            if (string.IsNullOrWhiteSpace(cell.Source)) continue;
            options.Progress?.Invoke(new NotebookProgress(name, number, cells.Count, false, clock.Elapsed.TotalSeconds));
            var outputs = new List<CellOutput>();
            globals.CurrentOutputs = outputs;
            NotebookGlobals.Current = globals;
            var cellClock = Stopwatch.StartNew();
            var stdout = new StringWriter();
            var originalOut = Console.Out;
            bool ok = true;
            try
            {
                if (cell.KernelName is not ("csharp" or "c#" or "C#"))
                    throw new NotebookDirectiveException($"cell {number}: kernel '{cell.KernelName}' is not supported by the kit's runner (only C#).");
                var code = CellDirectives.Preprocess(cell.Source, number);
                Console.SetOut(stdout);
                var task = Task.Run(async () => state == null
                    ? await CSharpScript.RunAsync(code, scriptOptions, globals, typeof(NotebookGlobals))
                    : await state.ContinueWithAsync(code, scriptOptions));
                var finished = await Task.WhenAny(task, Task.Delay(options.CellTimeout));
                if (finished != task)
                    throw new TimeoutException($"cell {number} did not finish within its timeout of {options.CellTimeout.TotalSeconds:F0} s.");
                state = await task;
                if (state.Exception != null) throw state.Exception;
                if (state.ReturnValue is { } value && !IsVoidLike(value))
                    outputs.Add(new CellOutput { Kind = "execute_result", Data = OutputFormatter.Format(value) });
            }
            catch (Exception e)
            {
                ok = false;
                failedCell = number;
                var (ename, evalue, trace) = Describe(e, number);
                error = $"{ename}: {evalue}";
                outputs.Add(new CellOutput { Kind = "error", ErrorName = ename, ErrorValue = evalue, Traceback = trace });
            }
            finally
            {
                Console.SetOut(originalOut);
                NotebookGlobals.Current = null;
            }
            var printed = stdout.ToString();
            var all = new List<CellOutput>();
            if (printed.Length > 0) all.Add(new CellOutput { Kind = "stream", Text = printed });
            all.AddRange(outputs);
            executionCount++;
            cell.Json["execution_count"] = executionCount;
            cell.Json["outputs"] = new JsonArray(all.Select(o => (JsonNode)o.ToJson(executionCount)).ToArray());
            timings.Add(new CellTiming(number, cell.CellType, cellClock.Elapsed.TotalSeconds, ok));
            options.Progress?.Invoke(new NotebookProgress(name, number, cells.Count, true, clock.Elapsed.TotalSeconds));
        }

        var info = TorchRuntime.Info;
        var size = Environment.GetEnvironmentVariable("PATHNB_SIZE") ?? (info?.IsCuda == true ? "full" : "tiny");
        var subtitle = $"{(failedCell == null ? "executed" : $"FAILED at cell {failedCell}")} {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · size {size} · " +
                       $"{info?.ToString() ?? "torch runtime not started"} · {clock.Elapsed.TotalSeconds:F1} s";
        var ipynb = AtomicFile.WriteText(Path.Combine(outDir, name + ".ipynb"), executed.ToJson());
        var html = AtomicFile.WriteText(Path.Combine(outDir, name + ".html"), HtmlPage.Render(executed, name, subtitle));
        var runJson = AtomicFile.WriteText(Path.Combine(outDir, "run.json"), RunJson(name, info, size, failedCell, error, timings, clock.Elapsed.TotalSeconds));
        return new NotebookRunResult(notebookPath, failedCell == null, failedCell, error, timings, ipynb, html, runJson, clock.Elapsed.TotalSeconds);
    }

    static bool IsVoidLike(object value) => value.GetType().FullName == "System.Threading.Tasks.VoidTaskResult";

    static (string Name, string Value, IReadOnlyList<string> Trace) Describe(Exception e, int cell)
    {
        if (e is CompilationErrorException compile)
        {
            var lines = compile.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)
                .Select(d => $"cell {cell}, line {d.Location.GetLineSpan().StartLinePosition.Line + 1}: {d.Id}: {d.GetMessage()}").ToList();
            return ("CompilationError", $"cell {cell} does not compile: {lines.FirstOrDefault()}", lines);
        }
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerExceptions[0];
        if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        var trace = (e.ToString() ?? "").Split('\n').Select(l => l.TrimEnd()).ToList();
        return (e.GetType().Name, $"cell {cell}: {e.Message}", trace);
    }

    static string RunJson(string name, RuntimeInfo? info, string size, int? failedCell, string? error, List<CellTiming> timings, double seconds)
    {
        var o = new JsonObject
        {
            ["notebook"] = name,
            ["succeeded"] = failedCell == null,
            ["failed_cell"] = failedCell,
            ["error"] = error,
            ["size"] = size,
            ["device"] = info?.Device,
            ["gpu"] = info?.GpuName,
            ["libtorch"] = info?.LibtorchVersion,
            ["torchsharp"] = info?.TorchSharpVersion,
            ["torch_backend"] = info?.TorchBackend,
            ["natives"] = info?.NativeSource,
            ["threads"] = info?.Threads,
            ["seeds"] = new JsonArray(Kit.SeedsUsed.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()),
            ["dotnet"] = Environment.Version.ToString(),
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["started_utc"] = DateTime.UtcNow.AddSeconds(-seconds).ToString("O"),
            ["wall_seconds"] = Math.Round(seconds, 2),
            ["cells"] = new JsonArray(timings.Select(t => (JsonNode)new JsonObject
            {
                ["cell"] = t.Cell, ["seconds"] = Math.Round(t.Seconds, 3), ["succeeded"] = t.Succeeded,
            }).ToArray()),
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Assemblies every cell can use without #r: the kit, TorchSharp, Plotly.NET (+FSharp.Core), DataFrame.</summary>
    static IEnumerable<MetadataReference> KitReferences()
    {
        var assemblies = new[]
        {
            typeof(Kit).Assembly, typeof(TorchSharp.torch).Assembly, typeof(Plotly.NET.GenericChart).Assembly,
            typeof(Microsoft.FSharp.Core.FSharpOption<>).Assembly, typeof(Microsoft.Data.Analysis.DataFrame).Assembly,
            typeof(Microsoft.ML.IDataView).Assembly, typeof(System.Text.Json.JsonSerializer).Assembly,
        };
        return assemblies.Distinct().Select(a => MetadataReference.CreateFromFile(a.Location));
    }

    /// <summary>The runtime's own assemblies (System.*, netstandard), as the kernel referenced them.</summary>
    static IEnumerable<MetadataReference> FrameworkReferences()
    {
        var tpa = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return tpa.Where(p =>
            {
                var n = Path.GetFileNameWithoutExtension(p);
                return n.StartsWith("System", StringComparison.Ordinal) || n is "netstandard" or "mscorlib" or "Microsoft.CSharp" or "Microsoft.Win32.Primitives";
            })
            .Where(p => Path.GetDirectoryName(p) == Path.GetDirectoryName(typeof(object).Assembly.Location))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
    }

    static System.Collections.Immutable.ImmutableArray<T> ImmutableArrayOf<T>() => System.Collections.Immutable.ImmutableArray<T>.Empty;
}
