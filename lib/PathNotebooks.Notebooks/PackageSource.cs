using System.Text.RegularExpressions;

namespace PathNotebooks.Notebooks;

/// <summary>
/// Where a notebook's <c>#r "nuget: …"</c> lines are served from. The default is the kernel's own NuGet directive
/// (a restore from the configured NuGet sources, as in VS Code and Jupyter); the only change the runner may make to a
/// cell is the choice of TorchSharp's native package, so that a CUDA machine runs the notebook on its GPU.
/// </summary>
public sealed partial class PackageSource
{
    /// <summary>The TorchSharp package the committed notebooks name (CPU libtorch, runs everywhere).</summary>
    public const string NotebookTorchPackage = "TorchSharp-cpu";

    [GeneratedRegex("""^(?<lead>\s*#r\s+"nuget:\s*)TorchSharp-cpu(?<rest>\s*,[^"]*"\s*)$""", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex TorchCpuReference();

    readonly string torchPackage;

    PackageSource(string torchPackage) => this.torchPackage = torchPackage;

    /// <summary>
    /// The kernel's NuGet directive, with <c>TorchSharp-cpu</c> replaced by <paramref name="torchPackage"/>:
    /// <c>TorchSharp-cpu</c> (no change), <c>TorchSharp-cuda-linux</c> (bundles CUDA) or <c>TorchSharp</c> (no libtorch of its own;
    /// the kit then loads PyTorch's libtorch).
    /// </summary>
    public static PackageSource NuGet(string torchPackage = NotebookTorchPackage)
    {
        if (torchPackage is not ("TorchSharp-cpu" or "TorchSharp-cuda-linux" or "TorchSharp"))
            throw new ArgumentException($"torch package must be TorchSharp-cpu, TorchSharp-cuda-linux or TorchSharp, not '{torchPackage}'.", nameof(torchPackage));
        return new PackageSource(torchPackage);
    }

    /// <summary>Says what was used, for run.json.</summary>
    public string Description => torchPackage == NotebookTorchPackage ? "nuget" : $"nuget ({NotebookTorchPackage} → {torchPackage})";

    /// <summary>The TorchSharp package notebooks get.</summary>
    public string TorchPackage => torchPackage;

    /// <summary>The code to submit for a cell.</summary>
    public string Prepare(string source, int cellNumber) =>
        torchPackage == NotebookTorchPackage ? source : TorchCpuReference().Replace(source, m => m.Groups["lead"].Value + torchPackage + m.Groups["rest"].Value);
}
