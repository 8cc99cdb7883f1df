using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Markdig;
using PathNotebooks.Charts;

namespace PathNotebooks.Notebooks;

/// <summary>
/// Renders an executed notebook as one self-contained HTML page: markdown (Markdig), code, outputs, charts drawn
/// by the plotly.js bundled in Plotly.NET (inlined once per page, so the page works offline).
/// </summary>
public static class HtmlPage
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    const string Style = """
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1b1f24;line-height:1.5}
        pre{background:#f6f8fa;padding:.7em;overflow:auto;border-radius:6px;font-size:.85em}
        pre.code{border-left:3px solid #0969da}
        pre.error{background:#fff0f0;border-left:3px solid #cf222e}
        .cellno{color:#57606a;font-size:.75em;margin-top:1.2em}
        table.dataframe{border-collapse:collapse;font-size:.85em;margin:.5em 0}
        table.dataframe td,table.dataframe th{border:1px solid #d0d7de;padding:.2em .6em;text-align:right}
        .meta{color:#57606a;font-size:.85em}
        """;

    /// <summary>A standalone page around one HTML fragment (used for single charts).</summary>
    public static string Standalone(string title, string bodyHtml) =>
        $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title><style>{Style}</style>" +
        $"<script>{Plot.PlotlyJs().Script}</script></head><body>{bodyHtml}</body></html>";

    /// <summary>The whole executed notebook as a page.</summary>
    public static string Render(NotebookDocument notebook, string title, string subtitle)
    {
        var body = new StringBuilder();
        body.Append($"<h1 style=\"font-size:1.1em;color:#57606a\">{WebUtility.HtmlEncode(title)}</h1><p class=\"meta\">{WebUtility.HtmlEncode(subtitle)}</p>");
        for (int i = 0; i < notebook.Cells.Count; i++)
        {
            var cell = notebook.Cells[i];
            if (cell.CellType == "markdown")
            {
                body.Append(Markdig.Markdown.ToHtml(cell.Source, Markdown));
                continue;
            }
            if (cell.CellType != "code") continue;
            body.Append($"<div class=\"cellno\">cell {i + 1}</div><pre class=\"code\"><code>{WebUtility.HtmlEncode(cell.Source)}</code></pre>");
            foreach (var output in cell.Outputs.OfType<JsonObject>()) body.Append(RenderOutput(output));
        }
        return Standalone(title, body.ToString());
    }

    static string RenderOutput(JsonObject output)
    {
        string Lines(JsonNode? n) => n is JsonArray a ? string.Concat(a.Select(x => x?.GetValue<string>())) : n?.GetValue<string>() ?? "";
        switch (output["output_type"]?.GetValue<string>())
        {
            case "stream":
                return $"<pre>{WebUtility.HtmlEncode(Lines(output["text"]))}</pre>";
            case "error":
                return $"<pre class=\"error\">{WebUtility.HtmlEncode(output["ename"] + ": " + output["evalue"] + "\n" + string.Join("\n", (output["traceback"] as JsonArray ?? new JsonArray()).Select(x => x?.GetValue<string>())))}</pre>";
            default:
                var data = output["data"] as JsonObject;
                if (data == null) return "";
                if (data["text/html"] is { } html) return $"<div>{Lines(html)}</div>";
                if (data["text/plain"] is { } text) return $"<pre>{WebUtility.HtmlEncode(Lines(text))}</pre>";
                return "";
        }
    }
}
