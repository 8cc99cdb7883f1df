using System.Runtime.Loader;
using System.Text.RegularExpressions;

namespace PathNotebooks.Notebooks;

/// <summary>A cell's code as it is submitted, and the kernel extensions to load once it has run.</summary>
public sealed record PreparedCell(string Code, IReadOnlyList<string> ExtensionAssemblies);

/// <summary>
/// Where a notebook's <c>#r "nuget: …"</c> lines are served from.
/// <list type="bullet">
/// <item><see cref="NuGet"/> (the default): the kernel's own NuGet directive restores them, as in VS Code and Jupyter.
/// The only change the runner makes to a cell is the choice of TorchSharp's native package, so that a CUDA build of the
/// kit runs the notebooks on its GPU.</item>
/// <item><see cref="Folder"/>: for machines without NuGet or a .NET SDK (a GPU box that got the kit as a bundle):
/// every package line becomes a <c>#r</c> of that package's assembly in one folder that holds the kit and all its
/// dependencies, and the packages' kernel extensions are loaded from <c>interactive-extensions/&lt;package&gt;/</c> there.</item>
/// </list>
/// </summary>
public sealed partial class PackageSource
{
    /// <summary>The TorchSharp package the committed notebooks name (CPU libtorch, runs everywhere).</summary>
    public const string NotebookTorchPackage = "TorchSharp-cpu";

    [GeneratedRegex("""^(?<lead>\s*#r\s+"nuget:\s*)TorchSharp-cpu(?<rest>\s*,[^"]*"\s*)$""", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex TorchCpuReference();

    [GeneratedRegex("""^\s*#r\s+"nuget:\s*(?<id>[^,"\s]+)\s*(,\s*[^"]*)?"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex NuGetReference();

    readonly string torchPackage;
    readonly string? folder;

    PackageSource(string torchPackage, string? folder)
    {
        this.torchPackage = torchPackage;
        this.folder = folder;
    }

    /// <summary>
    /// The kernel's NuGet directive, with <c>TorchSharp-cpu</c> replaced by <paramref name="torchPackage"/>:
    /// <c>TorchSharp-cpu</c> (no change), <c>TorchSharp-cuda-linux</c> (bundles CUDA) or <c>TorchSharp</c> (no libtorch of its own;
    /// the kit then loads PyTorch's libtorch).
    /// </summary>
    public static PackageSource NuGet(string torchPackage = NotebookTorchPackage)
    {
        if (torchPackage is not ("TorchSharp-cpu" or "TorchSharp-cuda-linux" or "TorchSharp"))
            throw new ArgumentException($"torch package must be TorchSharp-cpu, TorchSharp-cuda-linux or TorchSharp, not '{torchPackage}'.", nameof(torchPackage));
        return new PackageSource(torchPackage, null);
    }

    /// <summary>Serves package lines from <paramref name="directory"/> (see the class remarks); no NuGet, no SDK.</summary>
    public static PackageSource Folder(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(full, "TorchSharp.dll")))
            throw new ArgumentException($"package folder '{full}' has no TorchSharp.dll; it must hold the kit and its dependencies (scripts/publish-gpu-box.sh makes one).", nameof(directory));
        // Dependencies of the assemblies referenced from there (FSharp.Core, Newtonsoft.Json, …) load from there too,
        // unless the process already has an assembly of that name (the kernel's own win, as in the real kernel).
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            if (AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == name.Name)) return null;
            var candidate = Path.Combine(full, name.Name + ".dll");
            return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
        };
        return new PackageSource(NotebookTorchPackage, full);
    }

    /// <summary>Says what was used, for run.json.</summary>
    public string Description => folder != null ? $"folder {folder}"
        : torchPackage == NotebookTorchPackage ? "nuget" : $"nuget ({NotebookTorchPackage} → {torchPackage})";

    /// <summary>The code to submit for a cell, and the extensions to load after it.</summary>
    /// <exception cref="InvalidOperationException">A package line names a package the folder does not hold.</exception>
    public PreparedCell Prepare(string source, int cellNumber)
    {
        if (folder == null)
            return new PreparedCell(torchPackage == NotebookTorchPackage ? source
                : TorchCpuReference().Replace(source, m => m.Groups["lead"].Value + torchPackage + m.Groups["rest"].Value), Array.Empty<string>());

        var lines = source.Replace("\r\n", "\n").Split('\n');
        var extensions = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (NuGetReference().Match(lines[i]) is not { Success: true } match) continue;
            var id = match.Groups["id"].Value;
            var assembly = id.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) ? "TorchSharp" : id;   // its native half is the folder's
            var path = Path.Combine(folder, assembly + ".dll");
            if (!File.Exists(path))
                throw new InvalidOperationException($"cell {cellNumber}, line {i + 1}: package '{id}' is not in the package folder {folder} (no {assembly}.dll).");
            lines[i] = $"#r \"{path}\"";
            var extensionDir = Path.Combine(folder, "interactive-extensions", id);
            if (Directory.Exists(extensionDir)) extensions.AddRange(Directory.GetFiles(extensionDir, "*.dll").Order(StringComparer.Ordinal));
        }
        return new PreparedCell(string.Join('\n', lines), extensions);
    }
}
