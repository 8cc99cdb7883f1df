namespace PathNotebooks.Notebooks;

/// <summary>A displayed output that can be replaced later (as the kernel's DisplayedValue).</summary>
public sealed class DisplayedValue
{
    readonly CellOutput output;
    internal DisplayedValue(CellOutput output) => this.output = output;

    /// <summary>Replaces what this output shows.</summary>
    public void Update(object value) => output.Data = OutputFormatter.Format(value);
}

/// <summary>
/// What every cell can call without a prefix, as in Polyglot: <c>display(x)</c>. The runner passes an instance as
/// Roslyn's globals object; outputs go to the cell being executed.
/// </summary>
public class NotebookGlobals
{
    internal List<CellOutput> CurrentOutputs { get; set; } = new();

    /// <summary>Shows <paramref name="value"/> as a cell output (charts, tables, text).</summary>
    public DisplayedValue display(object value, params string[] mimeTypes)
    {
        var data = OutputFormatter.Format(value);
        if (mimeTypes.Length > 0)
            data = data.Where(kv => mimeTypes.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value) is { Count: > 0 } only ? only : data;
        var output = new CellOutput { Kind = "display_data", Data = data };
        CurrentOutputs.Add(output);
        return new DisplayedValue(output);
    }

    /// <summary>Wraps an HTML string so it is shown as HTML.</summary>
    public HtmlString HTML(string html) => new(html);

    internal static NotebookGlobals? Current { get; set; }
}
