using System.Collections;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Analysis;
using Plotly.NET;
using PathNotebooks.Charts;

namespace PathNotebooks.Notebooks;

/// <summary>HTML to show as is (the runner's equivalent of the kernel's HTML helper).</summary>
public sealed record HtmlString(string Html)
{
    public override string ToString() => Html;
}

/// <summary>One output of a cell, as nbformat stores it: a stream, rich data (mime → content) or an error.</summary>
public sealed class CellOutput
{
    public required string Kind { get; init; }                                   // stream | display_data | execute_result | error
    public Dictionary<string, JsonNode> Data { get; set; } = new();
    public string? Text { get; init; }                                           // stream text
    public string? ErrorName { get; init; }
    public string? ErrorValue { get; init; }
    public IReadOnlyList<string> Traceback { get; init; } = Array.Empty<string>();

    public JsonObject ToJson(int? executionCount) => Kind switch
    {
        "stream" => new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = NotebookDocument.SplitLines(Text ?? "") },
        "error" => new JsonObject
        {
            ["output_type"] = "error", ["ename"] = ErrorName, ["evalue"] = ErrorValue,
            ["traceback"] = new JsonArray(Traceback.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        },
        _ => WithCount(new JsonObject
        {
            ["output_type"] = Kind,
            ["data"] = new JsonObject(Data.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key,
                kv.Value is JsonValue v && v.TryGetValue<string>(out var s) && kv.Key.StartsWith("text/") ? NotebookDocument.SplitLines(s) : kv.Value.DeepClone()))),
            ["metadata"] = new JsonObject(),
        }, executionCount),
    };

    static JsonObject WithCount(JsonObject o, int? count)
    {
        if (o["output_type"]?.GetValue<string>() == "execute_result") o["execution_count"] = count;
        return o;
    }
}

/// <summary>
/// Turns a value into notebook outputs the way the .NET Interactive formatters did: Plotly charts as figure JSON
/// plus an HTML fragment, DataFrames as an HTML table plus text, tensors and everything else as text.
/// </summary>
public static class OutputFormatter
{
    /// <summary>Rows of a DataFrame shown in a notebook (the CSV keeps them all).</summary>
    public const int MaxTableRows = 60;

    public static Dictionary<string, JsonNode> Format(object value) => value switch
    {
        GenericChart chart => new()
        {
            ["application/vnd.plotly.v1+json"] = JsonNode.Parse(Plot.ToFigureJson(chart))!,
            ["text/html"] = JsonValue.Create(Plot.ToHtmlFragment(chart))!,
            ["text/plain"] = JsonValue.Create("Plotly chart")!,
        },
        DataFrame df => new()
        {
            ["text/html"] = JsonValue.Create(TableHtml(df))!,
            ["text/plain"] = JsonValue.Create(TableText(df))!,
        },
        HtmlString html => new() { ["text/html"] = JsonValue.Create(html.Html)!, ["text/plain"] = JsonValue.Create(StripTags(html.Html))! },
        TorchSharp.torch.Tensor t => new() { ["text/plain"] = JsonValue.Create(t.ToString(TorchSharp.TensorStringStyle.Numpy))! },
        _ => new() { ["text/plain"] = JsonValue.Create(Text(value))! },
    };

    static string Text(object value) => value switch
    {
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{Text(k)}: {Text(d[k] ?? "null")}")) + "}",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Take(200).Select(x => x == null ? "null" : Text(x))) + "]",
        _ => value.ToString() ?? "",
    };

    static string Cell(object? v) => v switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>An HTML table of the first <see cref="MaxTableRows"/> rows.</summary>
    public static string TableHtml(DataFrame df)
    {
        var sb = new StringBuilder("<table class=\"dataframe\"><thead><tr>");
        foreach (var c in df.Columns) sb.Append("<th>").Append(WebUtility.HtmlEncode(c.Name)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (long r = 0; r < Math.Min(df.Rows.Count, MaxTableRows); r++)
        {
            sb.Append("<tr>");
            foreach (var c in df.Columns) sb.Append("<td>").Append(WebUtility.HtmlEncode(Cell(c[r]))).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (df.Rows.Count > MaxTableRows) sb.Append($"<p>({df.Rows.Count} rows, first {MaxTableRows} shown)</p>");
        return sb.ToString();
    }

    /// <summary>A fixed-width text table.</summary>
    public static string TableText(DataFrame df)
    {
        var rows = Math.Min(df.Rows.Count, MaxTableRows);
        var cells = df.Columns.Select(c => new[] { c.Name }.Concat(Enumerable.Range(0, (int)rows).Select(r => Cell(c[r]))).ToArray()).ToArray();
        var widths = cells.Select(col => col.Max(s => s.Length)).ToArray();
        var sb = new StringBuilder();
        for (int r = 0; r <= rows; r++)
            sb.AppendLine(string.Join("  ", cells.Select((col, i) => col[r].PadLeft(widths[i]))).TrimEnd());
        if (df.Rows.Count > rows) sb.AppendLine($"({df.Rows.Count} rows, first {rows} shown)");
        return sb.ToString();
    }

    static string StripTags(string html) => System.Text.RegularExpressions.Regex.Replace(html, "<[^>]+>", "");
}
