using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Markdig;
using Microsoft.DotNet.Interactive.Documents;

namespace PathNotebooks.Notebooks;

/// <summary>
/// Renders an executed notebook as one self-contained HTML page: markdown (Markdig), code, outputs as the kernel
/// formatted them, and charts drawn from their figure JSON by the plotly.js that ships inside Plotly.NET (inlined once,
/// so the page works offline). Size, device and time are said once, under the title.
/// </summary>
static class HtmlPage
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    const string Style = """
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1b1f24;line-height:1.5}
        pre{background:#f6f8fa;padding:.7em;border-radius:6px;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}
        pre.code{border-left:3px solid #0969da}
        pre.error{background:#fff0f0;border-left:3px solid #cf222e}
        .cellno{color:#57606a;font-size:.75em;margin-top:1.2em}
        .notrun{color:#9a6700;font-weight:600}
        .chart{width:100%;min-height:420px}
        table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
        td,th{border:1px solid #d0d7de;padding:.2em .6em}
        th{background:#f6f8fa}
        .meta{color:#57606a;font-size:.85em}
        """;

    /// <summary>The whole executed notebook as a page.</summary>
    /// <param name="document">The executed notebook.</param>
    /// <param name="outputs">Outputs per element index (with the charts' figure JSON).</param>
    /// <param name="title">Page title (the notebook's name).</param>
    /// <param name="subtitle">Outcome, size, device and time of the run.</param>
    /// <param name="failedCell">1-based number of the cell that failed; code cells after it are marked "not run".</param>
    public static string Render(InteractiveDocument document, IReadOnlyDictionary<int, CellOutputs> outputs, string title, string subtitle, int? failedCell)
    {
        var body = new StringBuilder();
        body.Append($"<h1 style=\"font-size:1.1em;color:#57606a\">{WebUtility.HtmlEncode(title)}</h1><p class=\"meta\">{WebUtility.HtmlEncode(subtitle)}</p>");
        int charts = 0;
        for (int i = 0; i < document.Elements.Count; i++)
        {
            var cell = document.Elements[i];
            if (cell.KernelName == "markdown")
            {
                body.Append(Markdig.Markdown.ToHtml(cell.Contents, Markdown));
                continue;
            }
            bool notRun = failedCell is int f && i + 1 > f;
            body.Append($"<div class=\"cellno\">cell {i + 1}{(notRun ? " · <span class=\"notrun\">not run (an earlier cell failed)</span>" : "")}</div>");
            body.Append($"<pre class=\"code\"><code>{WebUtility.HtmlEncode(cell.Contents)}</code></pre>");
            if (outputs.TryGetValue(i, out var cellOutputs))
                foreach (var output in cellOutputs.All) body.Append(RenderOutput(output, ref charts));
        }
        var plotly = charts > 0 ? PlotlyFigures.PlotlyJs() : null;
        return "<!DOCTYPE html><html><head><meta charset=\"utf-8\">" +
               $"<title>{WebUtility.HtmlEncode(title)}</title><style>{Style}</style>" +
               (plotly != null ? $"<script>{plotly}</script>" : "") +
               $"</head><body>{body}</body></html>";
    }

    static string RenderOutput(CellOutputs.Output output, ref int charts)
    {
        switch (output.Element)
        {
            case TextElement text:
                return $"<pre>{WebUtility.HtmlEncode(text.Text)}</pre>";
            case ErrorElement error:
                return $"<pre class=\"error\">{WebUtility.HtmlEncode($"{error.ErrorName}: {error.ErrorValue}\n{string.Join("\n", error.StackTrace)}")}</pre>";
            case DisplayElement or ReturnValueElement:
                if (output.PlotlyFigure is { } figure) return Chart(figure, ++charts);
                var data = output.Element is DisplayElement d ? d.Data : ((ReturnValueElement)output.Element).Data;
                if (data.TryGetValue("text/html", out var html)) return $"<div>{html}</div>";
                if (data.TryGetValue("text/plain", out var plain)) return $"<pre>{WebUtility.HtmlEncode(plain?.ToString() ?? "")}</pre>";
                return "";
            default:
                return "";
        }
    }

    /// <summary>A chart that fills the page width: the figure's fixed width is dropped and plotly draws responsively.</summary>
    static string Chart(string figureJson, int index)
    {
        var figure = JsonNode.Parse(figureJson)!.AsObject();
        if (figure["layout"] is JsonObject layout) layout.Remove("width");
        var id = $"chart-{index}";
        return $"<div class=\"chart\" id=\"{id}\"></div><script>(function(){{var f={figure.ToJsonString()};" +
               $"Plotly.newPlot('{id}',f.data,f.layout,{{responsive:true}});}})();</script>";
    }
}
