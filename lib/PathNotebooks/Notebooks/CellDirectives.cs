using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace PathNotebooks.Notebooks;

/// <summary>Raised when a cell uses a kernel directive the runner cannot honour; names the cell and line.</summary>
public sealed class NotebookDirectiveException(string message) : Exception(message);

/// <summary>
/// Handles what the .NET Interactive kernel handled before compiling a cell: <c>#r "nuget: X, V"</c>, <c>#i</c>,
/// and <c>#!magic</c> lines. The runner carries its packages already, so a package reference is accepted only
/// when the kit ships that package at that version; <c>#r</c> of the kit's own dll is accepted (already loaded);
/// other <c>#r "path.dll"</c> lines are left for Roslyn, which resolves them relative to the notebook folder.
/// </summary>
public static partial class CellDirectives
{
    [GeneratedRegex("""^\s*#r\s+"nuget:\s*(?<id>[^,"\s]+)\s*(,\s*(?<version>[^"\s]+))?\s*"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex NugetReference();

    [GeneratedRegex("""^\s*#r\s+"(?<path>[^"]+)"\s*$""")]
    private static partial Regex PathReference();

    /// <summary>Packages (lower-case id → version) whose assemblies the runner has loaded.</summary>
    public static IReadOnlyDictionary<string, string> CarriedPackages { get; } = BuildCarried();

    static IReadOnlyDictionary<string, string> BuildCarried()
    {
        string Ver(Assembly a) => a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                                  ?? a.GetName().Version?.ToString(3) ?? "";
        var torchSharp = Ver(typeof(TorchSharp.torch).Assembly);
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["TorchSharp"] = torchSharp,
            ["Plotly.NET"] = Ver(typeof(Plotly.NET.GenericChart).Assembly),
            ["Microsoft.Data.Analysis"] = Ver(typeof(Microsoft.Data.Analysis.DataFrame).Assembly),
        };
        // The native combination packages only choose where libtorch comes from in Polyglot; under the runner the kit's
        // runtime has already loaded libtorch (bundled, CUDA or PyTorch's), so any of them at TorchSharp's version is fine.
        foreach (var combo in new[] { "TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp-cuda-windows" }) map[combo] = torchSharp;
        return map;
    }

    /// <summary>
    /// Returns the code Roslyn should compile: handled directive lines are blanked (keeping line numbers), everything
    /// else is kept. Throws <see cref="NotebookDirectiveException"/> for a directive that cannot be honoured.
    /// </summary>
    public static string Preprocess(string source, int cellNumber)
    {
        var output = new StringBuilder();
        var lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.TrimStart();
            string where = $"cell {cellNumber}, line {i + 1}";
            if (trimmed.StartsWith("#!", StringComparison.Ordinal))
            {
                var magic = trimmed.Split(' ', 2)[0];
                if (magic is "#!csharp" or "#!c#" or "#!C#") { output.Append('\n'); continue; }
                throw new NotebookDirectiveException($"{where}: the magic command '{magic}' is not supported by the kit's runner (only C# cells run; '#!csharp' is accepted).");
            }
            if (trimmed.StartsWith("#i ", StringComparison.Ordinal))
                throw new NotebookDirectiveException($"{where}: '#i' package sources are not supported by the kit's runner; the kit's packages are already loaded.");
            if (NugetReference().Match(line) is { Success: true } nuget)
            {
                var id = nuget.Groups["id"].Value;
                var version = nuget.Groups["version"].Success ? nuget.Groups["version"].Value : null;
                if (!CarriedPackages.TryGetValue(id, out var carried))
                    throw new NotebookDirectiveException(
                        $"{where}: '#r \"nuget: {id}{(version != null ? ", " + version : "")}\"' — the kit's runner cannot install packages; it carries only " +
                        string.Join(", ", CarriedPackages.Select(p => $"{p.Key} {p.Value}")) + ". Remove the line or use one of those.");
                if (version != null && version != carried)
                    throw new NotebookDirectiveException($"{where}: '{id}' version {version} was asked for, but the kit carries {id} {carried}. Use '#r \"nuget: {id}, {carried}\"'.");
                output.Append('\n');
                continue;
            }
            if (PathReference().Match(line) is { Success: true } path &&
                Path.GetFileName(path.Groups["path"].Value).Equals(typeof(Kit).Assembly.GetName().Name + ".dll", StringComparison.OrdinalIgnoreCase))
            {
                output.Append('\n');                                               // the kit itself: already referenced
                continue;
            }
            output.Append(line).Append('\n');
        }
        return output.ToString();
    }
}
