using System.Reflection;

namespace PathNotebooks.Notebooks;

/// <summary>
/// Figure JSON and plotly.js for the offline HTML page, taken from the Plotly.NET assembly the notebook itself loaded.
/// </summary>
/// <remarks>
/// The runner references no Plotly.NET of its own (the notebook brings it with <c>#r</c>, as in the real kernel), so the
/// chart value is inspected by reflection: <c>Plotly.NET.GenericChart.toFigureJson</c> gives the figure (data + layout)
/// and Plotly.NET.dll carries plotly.js as a resource, so pages need no CDN.
/// </remarks>
static class PlotlyFigures
{
    const string GenericChartTypeName = "Plotly.NET.GenericChart";

    /// <summary>The figure JSON of a Plotly.NET chart, or null when <paramref name="value"/> is not one.</summary>
    public static string? FigureJson(object? value)
    {
        if (value == null || !IsChart(value.GetType())) return null;
        var toFigureJson = value.GetType().Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .FirstOrDefault(m => m.Name == "toFigureJson" && m.GetParameters() is [var p] && p.ParameterType.IsInstanceOfType(value));
        return toFigureJson?.Invoke(null, new[] { value }) as string;
    }

    /// <summary>plotly.js as shipped inside the loaded Plotly.NET.dll, or null if no chart was produced.</summary>
    public static string? PlotlyJs()
    {
        var plotly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "Plotly.NET");
        var resource = plotly?.GetManifestResourceNames().FirstOrDefault(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal));
        if (plotly == null || resource == null) return null;
        using var stream = plotly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    static bool IsChart(Type? type)
    {
        for (; type != null; type = type.BaseType)
            if (type.FullName == GenericChartTypeName) return true;
        return false;
    }
}
