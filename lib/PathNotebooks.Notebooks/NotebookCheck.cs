using System.Text.Json;
using Microsoft.DotNet.Interactive.Documents.Jupyter;

namespace PathNotebooks.Notebooks;

/// <summary>Whether a notebook is committable: Polyglot metadata for the C# kernel, every code cell a C# cell, no outputs.</summary>
public static class NotebookCheck
{
    /// <summary>What is wrong with the notebook at <paramref name="path"/> (empty when it is clean).</summary>
    public static IReadOnlyList<string> Problems(string path)
    {
        var json = File.ReadAllText(path);
        var problems = new List<string>();
        using (var raw = JsonDocument.Parse(json))
        {
            // The kernelspec is what Jupyter and VS Code pick the kernel by; Documents keeps it only as opaque metadata.
            var kernelspec = raw.RootElement.TryGetProperty("metadata", out var m) && m.TryGetProperty("kernelspec", out var k) ? k : default;
            if (Text(kernelspec, "name") != ".net-csharp") problems.Add("kernelspec.name is not '.net-csharp'");
            if (Text(kernelspec, "language") != "C#") problems.Add("kernelspec.language is not 'C#'");
            // The Polyglot extension picks each cell's kernel by this default (cells without their own kernel name).
            var kernelInfo = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("polyglot_notebook", out var polyglot) && polyglot.TryGetProperty("kernelInfo", out var ki) ? ki : default;
            if (Text(kernelInfo, "defaultKernelName") != "csharp") problems.Add("polyglot_notebook.kernelInfo.defaultKernelName is not 'csharp'");
            var cells = raw.RootElement.GetProperty("cells").EnumerateArray().ToList();
            for (int i = 0; i < cells.Count; i++)
                if (cells[i].TryGetProperty("execution_count", out var count) && count.ValueKind == JsonValueKind.Number)
                    problems.Add($"cell {i + 1} has an execution count");
        }
        var document = Notebook.Parse(json, NotebookExecution.KernelInfos);
        for (int i = 0; i < document.Elements.Count; i++)
        {
            var cell = document.Elements[i];
            if (cell.KernelName == "markdown") continue;
            if (cell.KernelName != "csharp") problems.Add($"cell {i + 1} is a '{cell.KernelName}' cell, not C#");
            if (cell.Outputs.Count > 0) problems.Add($"cell {i + 1} has outputs");
        }
        return problems;
    }

    static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
