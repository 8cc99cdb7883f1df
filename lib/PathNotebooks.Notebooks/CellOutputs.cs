using System.Text;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace PathNotebooks.Notebooks;

/// <summary>
/// Collects what the kernel reported for one cell and turns it into notebook outputs, as the Jupyter front end of
/// dotnet-interactive does: stdout/stderr as streams, displayed values and the cell's value as mime bundles (formatted
/// by the kernel's own formatters and the packages' extensions), a failure as an error output.
/// </summary>
/// <remarks>
/// Plotly charts additionally keep their figure JSON (<see cref="PlotlyFigures"/>) so the offline HTML page can draw
/// them with an inlined plotly.js; the .ipynb keeps exactly what the kernel produced.
/// </remarks>
sealed class CellOutputs
{
    readonly List<Output> outputs = new();
    readonly List<string?> valueIds = new();                                   // per output, for DisplayedValueUpdated
    readonly StringBuilder text = new();

    /// <summary>One output with, for charts, the figure JSON the HTML page draws.</summary>
    public sealed record Output(InteractiveDocumentOutputElement Element, string? PlotlyFigure);

    /// <summary>The failure message of the cell, if it failed.</summary>
    public string? FailureMessage { get; private set; }

    /// <summary>All stdout of the cell.</summary>
    public string Text => text.ToString();

    public IReadOnlyList<Output> All => outputs;

    public void Add(KernelEvent e)
    {
        switch (e)
        {
            case StandardOutputValueProduced o: AddStream(Plain(o.FormattedValues), "stdout"); break;
            case StandardErrorValueProduced o: AddStream(Plain(o.FormattedValues), "stderr"); break;
            case DisplayedValueUpdated u:                                          // replaces an earlier display
                int at = u.ValueId == null ? -1 : valueIds.IndexOf(u.ValueId);
                if (at >= 0) outputs[at] = Display(u.FormattedValues, u.Value); else Append(Display(u.FormattedValues, u.Value), u.ValueId);
                break;
            case DisplayedValueProduced d: Append(Display(d.FormattedValues, d.Value), d.ValueId); break;
            case ReturnValueProduced r:
                var result = new ReturnValueElement();
                foreach (var f in r.FormattedValues) result.Data[f.MimeType] = f.Value;
                Append(new Output(result, PlotlyFigures.FigureJson(r.Value)));
                break;
            case ErrorProduced err when e is not CommandFailed:
                AddError("Error", err.Message);
                break;
            case CommandFailed failed:
                FailureMessage = failed.Message;
                var trace = failed.Exception?.ToString().Split('\n').Select(l => l.TrimEnd()).ToArray();
                Append(new Output(new ErrorElement(failed.Message, failed.Exception?.GetType().Name ?? "Error", trace), null));
                break;
        }
    }

    /// <summary>An error the runner itself reports (timeout, unsupported cell).</summary>
    public void AddError(string name, string message)
    {
        FailureMessage ??= message;
        Append(new Output(new ErrorElement(message, name), null));
    }

    void Append(Output output, string? valueId = null)
    {
        outputs.Add(output);
        valueIds.Add(valueId);
    }

    /// <summary>The outputs as document elements; the cell's value carries the execution count, as in Jupyter.</summary>
    public IEnumerable<InteractiveDocumentOutputElement> Elements(int executionCount)
    {
        foreach (var o in outputs)
        {
            if (o.Element is ReturnValueElement r) r.ExecutionOrder = executionCount;
            yield return o.Element;
        }
    }

    void AddStream(string value, string name)
    {
        if (name == "stdout") text.Append(value);
        // Consecutive writes to the same stream become one output, as Jupyter shows them.
        if (outputs.Count > 0 && outputs[^1].Element is TextElement last && last.Name == name)
            outputs[^1] = new Output(new TextElement(last.Text + value, name), null);
        else
            Append(new Output(new TextElement(value, name), null));
    }

    static Output Display(IReadOnlyCollection<FormattedValue> values, object? value) =>
        new(new DisplayElement(values.ToDictionary(f => f.MimeType, f => (object)f.Value)), PlotlyFigures.FigureJson(value));

    static string Plain(IReadOnlyCollection<FormattedValue> values) =>
        values.FirstOrDefault(v => v.MimeType == PlainTextFormatter.MimeType)?.Value ?? values.FirstOrDefault()?.Value ?? "";
}
