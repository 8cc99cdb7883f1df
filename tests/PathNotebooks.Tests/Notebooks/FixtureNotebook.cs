using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>Small Polyglot .ipynb files for tests, written the way the committed notebooks are (C# kernel metadata, no outputs).</summary>
public static class FixtureNotebook
{
    /// <summary>The first lines of a fixture code cell that uses the kit: the committed notebooks' package lines and the kit's dll by absolute path.</summary>
    public static string KitReferences =>
        "#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"nuget: Plotly.NET.Interactive, 6.0.0\"\n" +
        "#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\n" +
        $"#r \"{Path.Combine(RepoPaths.Root, "lib", "PathNotebooks", "bin", "Release", "net10.0", "PathNotebooks.dll")}\"\n";

    /// <summary>Writes a notebook of (type, source) cells, type "code" or "markdown", and returns its path.</summary>
    public static string Write(string path, params (string Type, string Source)[] cells)
    {
        var array = new JsonArray();
        int n = 0;
        foreach (var (type, source) in cells)
        {
            var cell = new JsonObject { ["cell_type"] = type, ["id"] = $"cell-{++n:D2}", ["source"] = source };
            if (type == "code")
            {
                cell["metadata"] = new JsonObject
                {
                    ["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" },
                    ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
                };
                cell["execution_count"] = null;
                cell["outputs"] = new JsonArray();
            }
            else cell["metadata"] = new JsonObject();
            array.Add(cell);
        }
        var notebook = new JsonObject
        {
            ["cells"] = array,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["language_info"] = new JsonObject { ["name"] = "C#" },
                ["polyglot_notebook"] = new JsonObject
                {
                    ["kernelInfo"] = new JsonObject
                    {
                        ["defaultKernelName"] = "csharp",
                        ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = "csharp" }),
                    },
                },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, notebook.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>A notebook of code cells only.</summary>
    public static string WriteCode(string path, params string[] codeCells) => Write(path, codeCells.Select(c => ("code", c)).ToArray());
}
