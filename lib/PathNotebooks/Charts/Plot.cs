using Plotly.NET;
using static TorchSharp.torch;

namespace PathNotebooks.Charts;

/// <summary>A named line/marker series for <see cref="Plot.Lines"/>.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, string Mode = "lines", string? Dash = null);

/// <summary>
/// The few chart shapes the notebooks need, as Plotly.NET <see cref="GenericChart"/>s built from plain C# values.
/// The device and size a chart's numbers came from are said once per notebook (the runtime line of its first cell,
/// repeated under the title of the HTML page), not on every chart.
/// </summary>
/// <remarks>
/// Plotly.NET's high-level chart API is F# with optional arguments (awkward from C#), so charts are built from its
/// trace and layout objects with plotly.js attribute names, which the plotly.js docs describe; Plotly.NET does the rest: in VS Code and Jupyter, Plotly.NET.Interactive
/// displays the chart; the kit's notebook runner draws it offline from Plotly.NET's figure JSON and bundled plotly.js.
/// </remarks>
public static class Plot
{
    /// <summary>Line chart of one or more series.</summary>
    public static GenericChart Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series, bool logY = false, bool logX = false)
    {
        var traces = series.Select(s =>
        {
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"series '{s.Name}': X has {s.X.Count} values but Y has {s.Y.Count}.", nameof(series));
            var t = Trace("scatter", ("x", s.X.ToArray()), ("y", s.Y.ToArray()), ("name", s.Name), ("mode", s.Mode));
            if (s.Dash != null) t.SetProperty("line", new Dictionary<string, object> { ["dash"] = s.Dash });
            return t;
        });
        return Finish(traces, title, xTitle, yTitle, logY ? "log" : null, logX ? "log" : null);
    }

    /// <summary>Grouped bar chart: one bar group per category, one bar per group name.</summary>
    public static GenericChart Bars(string title, string xTitle, string yTitle, IReadOnlyList<string> categories,
        IEnumerable<(string Name, IReadOnlyList<double> Values)> groups, bool logY = false)
    {
        var traces = groups.Select(g =>
        {
            if (g.Values.Count != categories.Count)
                throw new ArgumentException($"group '{g.Name}' has {g.Values.Count} values for {categories.Count} categories.", nameof(groups));
            return Trace("bar", ("x", categories.ToArray()), ("y", g.Values.ToArray()), ("name", g.Name),
                ("text", g.Values.Select(v => v.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)).ToArray()), ("textposition", "outside"));
        });
        var chart = Finish(traces, title, xTitle, yTitle, logY ? "log" : null, null);
        return GenericChart.addLayout(LayoutOf(("barmode", "group")), chart);
    }

    /// <summary>Heatmap of a 2-D tensor <c>[rows, cols]</c> (row 0 drawn at the top, like a matrix).</summary>
    public static GenericChart Heatmap(Tensor z, string title, string xTitle = "key position j", string yTitle = "query position i",
        string colorScale = "Viridis", double? zMin = null, double? zMax = null, IReadOnlyList<string>? xLabels = null, IReadOnlyList<string>? yLabels = null)
    {
        Shapes.Rank(z, 2, nameof(z), "[rows, cols]");
        var values = z.detach().cpu().to(ScalarType.Float64);
        long rows = values.shape[0], cols = values.shape[1];
        var flat = values.data<double>().ToArray();
        var grid = new double?[rows][];
        for (long r = 0; r < rows; r++)
        {
            grid[r] = new double?[cols];
            for (long c = 0; c < cols; c++)
            {
                var v = flat[r * cols + c];
                grid[r][c] = double.IsFinite(v) ? v : null;                         // −∞ (masked) shows as a gap
            }
        }
        var t = Trace("heatmap", ("z", grid), ("colorscale", colorScale));
        if (zMin is double lo) t.SetProperty("zmin", lo);
        if (zMax is double hi) t.SetProperty("zmax", hi);
        if (xLabels != null) t.SetProperty("x", xLabels.ToArray());
        if (yLabels != null) t.SetProperty("y", yLabels.ToArray());
        var chart = Finish(new[] { t }, title, xTitle, yTitle, null, null);
        return GenericChart.addLayout(LayoutOf(("yaxis", new Dictionary<string, object> { ["autorange"] = "reversed", ["title"] = new Dictionary<string, object> { ["text"] = yTitle } })), chart);
    }

    /// <summary>Scatter of points coloured by a value (e.g. PCA of positional vectors coloured by position).</summary>
    public static GenericChart ColoredScatter(string title, string xTitle, string yTitle, IReadOnlyList<double> x, IReadOnlyList<double> y,
        IReadOnlyList<double> color, string colorTitle, string colorScale = "Viridis")
    {
        if (x.Count != y.Count || x.Count != color.Count)
            throw new ArgumentException($"x, y and color must have the same length ({x.Count}, {y.Count}, {color.Count}).", nameof(color));
        var t = Trace("scatter", ("x", x.ToArray()), ("y", y.ToArray()), ("mode", "markers"),
            ("marker", new Dictionary<string, object>
            {
                ["color"] = color.ToArray(), ["colorscale"] = colorScale, ["size"] = 6,
                ["colorbar"] = new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = colorTitle } },
            }));
        return Finish(new[] { t }, title, xTitle, yTitle, null, null);
    }

    static Trace Trace(string type, params (string Key, object Value)[] properties)
    {
        var t = new Trace(type);
        foreach (var (k, v) in properties) t.SetProperty(k, v);
        return t;
    }

    static Layout LayoutOf(params (string Key, object Value)[] properties)
    {
        var l = new Layout();
        foreach (var (k, v) in properties) l.SetProperty(k, v);
        return l;
    }

    static GenericChart Finish(IEnumerable<Trace> traces, string title, string xTitle, string yTitle, string? yType, string? xType)
    {
        var list = traces.ToList();
        if (list.Count == 0) throw new ArgumentException("a chart needs at least one series.", nameof(traces));
        var chart = GenericChart.combine(list.Select(t => GenericChart.ofTraceObject(true, t)));
        static Dictionary<string, object> Axis(string text, string? type)
        {
            var axis = new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = text } };
            if (type != null) axis["type"] = type;
            return axis;
        }
        var layout = LayoutOf(
            ("title", new Dictionary<string, object> { ["text"] = title }),
            ("xaxis", Axis(xTitle, xType)), ("yaxis", Axis(yTitle, yType)),
            ("width", 760), ("height", 460));
        return GenericChart.addLayout(layout, chart);
    }
}
