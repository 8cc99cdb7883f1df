using System.Globalization;
using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb notebook run`, as parsed.</summary>
/// <param name="Out">Results folder; for one notebook the folder itself, for several the parent of one folder each.</param>
/// <param name="PackagesFrom">Folder that serves the notebooks' package lines instead of NuGet (null: NuGet).</param>
sealed record NotebookRunRequest(IReadOnlyList<string> Notebooks, string? Size, string? Device, string? Out, TimeSpan CellTimeout, string? PackagesFrom);

/// <summary>
/// The notebook runner program (pathnb-notebook, built beside pathnb in notebook-runner/): it executes one notebook in
/// the .NET Interactive C# kernel per process, since script assemblies and libtorch state cannot be unloaded.
/// </summary>
static class NotebookRunner
{
    /// <summary>The runner's apphost (or dll, run through dotnet) beside this program.</summary>
    static ChildStart Program(IEnumerable<string> arguments)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "notebook-runner");
        var apphost = Path.Combine(dir, OperatingSystem.IsWindows() ? "pathnb-notebook.exe" : "pathnb-notebook");
        var dll = Path.Combine(dir, "pathnb-notebook.dll");
        if (File.Exists(apphost)) return new ChildStart(apphost, arguments.ToList());
        if (File.Exists(dll)) return new ChildStart("dotnet", new[] { dll }.Concat(arguments).ToList());
        throw new InvalidOperationException($"the notebook runner is missing from {dir}; rebuild with `dotnet build PathNotebooks.sln -c Release`.");
    }

    /// <summary>
    /// The TorchSharp package the kernel should restore for the notebooks' `TorchSharp-cpu` line: the one this build of
    /// the kit was made with, so a CUDA build runs the notebooks on the GPU.
    /// </summary>
    static string TorchPackage => TorchRuntime.BuildBackend switch
    {
        "cuda" => "TorchSharp-cuda-linux",
        "none" => "TorchSharp",
        _ => "TorchSharp-cpu",
    };

    /// <summary>
    /// Runs <paramref name="notebook"/> into <paramref name="outDir"/>; with <paramref name="progress"/> the child prints
    /// `@progress` lines; <paramref name="packagesFrom"/> serves the package lines from a folder instead of NuGet.
    /// </summary>
    public static ChildStart Run(string notebook, string outDir, string? size, string? device, double? cellTimeoutSeconds, string? packagesFrom, bool progress)
    {
        var args = new List<string> { "run", Path.GetFullPath(notebook), "--out", Path.GetFullPath(outDir), "--torch-package", TorchPackage };
        if (packagesFrom != null) args.AddRange(["--packages-from", Path.GetFullPath(packagesFrom)]);
        if (size != null) args.AddRange(["--size", size]);
        if (device != null) args.AddRange(["--device", device]);
        if (cellTimeoutSeconds is double t) args.AddRange(["--cell-timeout", t.ToString(CultureInfo.InvariantCulture)]);
        if (progress) args.Add("--progress");
        return Program(args);
    }

    /// <summary>Checks notebooks for committing.</summary>
    public static ChildStart Check(IEnumerable<string> notebooks) => Program(new[] { "check" }.Concat(notebooks.Select(Path.GetFullPath)));
}
