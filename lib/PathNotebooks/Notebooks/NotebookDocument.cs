using System.Text.Json;
using System.Text.Json.Nodes;

namespace PathNotebooks.Notebooks;

/// <summary>One cell of an nbformat 4 notebook.</summary>
public sealed class NotebookCell
{
    internal NotebookCell(JsonObject json) => Json = json;
    internal JsonObject Json { get; }

    /// <summary>"code", "markdown" or "raw".</summary>
    public string CellType => Json["cell_type"]?.GetValue<string>() ?? "raw";

    /// <summary>The cell's source text (nbformat stores a string or a list of lines).</summary>
    public string Source => Json["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    /// <summary>Polyglot's kernel name of a code cell (default csharp).</summary>
    public string KernelName =>
        Json["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
        ?? Json["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>()
        ?? "csharp";

    /// <summary>Outputs of a code cell (empty for committed notebooks).</summary>
    public JsonArray Outputs => Json["outputs"] as JsonArray ?? (JsonArray)(Json["outputs"] = new JsonArray());
}

/// <summary>
/// An nbformat 4 notebook as JSON, read and written without losing metadata we do not interpret
/// (Polyglot's kernel info, VS Code's cell ids).
/// </summary>
public sealed class NotebookDocument
{
    readonly JsonObject root;

    NotebookDocument(JsonObject root)
    {
        this.root = root;
        Cells = (root["cells"] as JsonArray ?? new JsonArray()).OfType<JsonObject>().Select(c => new NotebookCell(c)).ToList();
    }

    public IReadOnlyList<NotebookCell> Cells { get; }
    public JsonObject Metadata => root["metadata"] as JsonObject ?? (JsonObject)(root["metadata"] = new JsonObject());

    /// <summary>Reads a notebook; a clear error when it is not nbformat 4 JSON.</summary>
    public static NotebookDocument Load(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid notebook JSON ({e.Message}).", e); }
        if (node is not JsonObject obj || obj["cells"] is not JsonArray)
            throw new InvalidDataException($"{path}: not an nbformat notebook (no 'cells' list).");
        if (obj["nbformat"]?.GetValue<int>() is int v && v != 4)
            throw new InvalidDataException($"{path}: nbformat {v} is not supported (need 4).");
        return new NotebookDocument(obj);
    }

    /// <summary>A deep copy (to write outputs without touching the source).</summary>
    public NotebookDocument Clone() => new((JsonObject)root.DeepClone());

    public string ToJson() => root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    /// <summary>The metadata Polyglot Notebooks (and Jupyter with the .NET kernel) expect for C#.</summary>
    public static JsonObject PolyglotMetadata() => new()
    {
        ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
        ["language_info"] = new JsonObject
        {
            ["file_extension"] = ".cs", ["mimetype"] = "text/x-csharp", ["name"] = "C#", ["pygments_lexer"] = "csharp", ["version"] = "13.0",
        },
        ["polyglot_notebook"] = new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = "csharp",
                ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = "csharp" }),
            },
        },
    };

    /// <summary>The per-cell metadata of a Polyglot C# code cell.</summary>
    public static JsonObject PolyglotCellMetadata() => new()
    {
        ["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" },
        ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
    };

    /// <summary>Problems that keep a notebook from being committed: outputs, execution counts, missing Polyglot metadata.</summary>
    public IReadOnlyList<string> CommitProblems()
    {
        var problems = new List<string>();
        if (Metadata["kernelspec"]?["name"]?.GetValue<string>() != ".net-csharp") problems.Add("kernelspec.name is not '.net-csharp'");
        if (Metadata["kernelspec"]?["language"]?.GetValue<string>() != "C#") problems.Add("kernelspec.language is not 'C#'");
        if (Metadata["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>() != "csharp") problems.Add("polyglot_notebook.kernelInfo.defaultKernelName is not 'csharp'");
        for (int i = 0; i < Cells.Count; i++)
        {
            var c = Cells[i];
            if (c.CellType != "code") continue;
            if (c.Json["outputs"] is JsonArray { Count: > 0 }) problems.Add($"cell {i + 1} has outputs");
            if (c.Json["execution_count"] is JsonValue) problems.Add($"cell {i + 1} has an execution count");
            if (c.Json["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>() != "csharp") problems.Add($"cell {i + 1} lacks polyglot_notebook.kernelName 'csharp'");
        }
        return problems;
    }

    /// <summary>Builds a committed-style notebook (no outputs) from (type, source) pairs — how the kit's notebooks are authored.</summary>
    public static NotebookDocument Create(IEnumerable<(string Type, string Source)> cells)
    {
        var array = new JsonArray();
        int n = 0;
        foreach (var (type, source) in cells)
        {
            var lines = SplitLines(source.Trim('\n'));
            var cell = new JsonObject { ["cell_type"] = type, ["id"] = $"cell-{++n:D2}", ["metadata"] = type == "code" ? PolyglotCellMetadata() : new JsonObject(), ["source"] = lines };
            if (type == "code") { cell["execution_count"] = null; cell["outputs"] = new JsonArray(); }
            array.Add(cell);
        }
        return new NotebookDocument(new JsonObject { ["cells"] = array, ["metadata"] = PolyglotMetadata(), ["nbformat"] = 4, ["nbformat_minor"] = 5 });
    }

    internal static JsonArray SplitLines(string text)
    {
        var parts = text.Split('\n');
        var array = new JsonArray();
        for (int i = 0; i < parts.Length; i++)
        {
            if (i == parts.Length - 1 && parts[i].Length == 0) break;               // text ending in a newline
            array.Add(i < parts.Length - 1 ? parts[i] + "\n" : parts[i]);
        }
        return array;
    }
}
