using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

namespace PathNotebooks.IO;

/// <summary>A DataFrame as a fixed-width text table, for terminals and logs (the benchmark's printed table).</summary>
public static class TextTable
{
    /// <summary>Right-aligned columns, numbers with 6 significant digits, all rows.</summary>
    public static string Format(DataFrame table)
    {
        ArgumentNullException.ThrowIfNull(table);
        long rows = table.Rows.Count;
        var cells = table.Columns.Select(c => new[] { c.Name }.Concat(Enumerable.Range(0, (int)rows).Select(r => Cell(c[r]))).ToArray()).ToArray();
        var widths = cells.Select(column => column.Max(s => s.Length)).ToArray();
        var text = new StringBuilder();
        for (int r = 0; r <= rows; r++)
            text.AppendLine(string.Join("  ", cells.Select((column, i) => column[r].PadLeft(widths[i]))).TrimEnd());
        return text.ToString();
    }

    static string Cell(object? value) => value switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
