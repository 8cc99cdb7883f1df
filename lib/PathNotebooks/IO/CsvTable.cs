using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

namespace PathNotebooks.IO;

/// <summary>
/// The kit's one CSV writer for <see cref="DataFrame"/> tables, so that a table's file depends only on its values:
/// UTF-8 without BOM, invariant culture, a header row, fields quoted only where RFC 4180 needs it (a comma, a quote,
/// CR or LF; quotes doubled), lines ending in <c>\n</c> on every OS.
/// </summary>
/// <remarks>
/// Numbers use the shortest text that parses back to the same value (<c>2.3616</c>, not
/// <c>2.3616000000000001</c> as <c>DataFrame.SaveCsv</c> writes); NaN and infinities are written as <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>, which
/// <see cref="double.Parse(string, IFormatProvider)"/> reads back with the invariant culture. Missing values are
/// empty fields.
/// </remarks>
public static class CsvTable
{
    static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes <paramref name="table"/> to <paramref name="path"/> atomically (temp file, then rename).</summary>
    /// <param name="table">the table to write</param>
    /// <param name="path">the CSV file; its folder is created when missing</param>
    /// <returns>the full path written</returns>
    public static string Write(DataFrame table, string path)
    {
        ArgumentNullException.ThrowIfNull(table);
        return AtomicFile.Write(path, tmp =>
        {
            using var writer = new StreamWriter(tmp, append: false, Utf8NoBom);
            Write(table, writer);
        });
    }

    /// <summary>Writes <paramref name="table"/> as CSV text to <paramref name="writer"/>.</summary>
    /// <param name="table">the table to write</param>
    /// <param name="writer">where the text goes (its encoding is the caller's choice)</param>
    public static void Write(DataFrame table, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(writer);
        WriteRow(writer, table.Columns.Select(c => Quote(c.Name)));
        for (long row = 0; row < table.Rows.Count; row++)
        {
            long r = row;
            WriteRow(writer, table.Columns.Select(c => Quote(Format(c[r]))));
        }
    }

    /// <summary>The CSV text of <paramref name="table"/>, exactly as <see cref="Write(DataFrame, string)"/> stores it.</summary>
    /// <param name="table">the table to format</param>
    public static string ToCsv(DataFrame table)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        Write(table, writer);
        return writer.ToString();
    }

    /// <summary>One value as a CSV field before quoting: shortest round-trip numbers, invariant culture, null → empty.</summary>
    /// <param name="value">a cell of a <see cref="DataFrame"/></param>
    public static string Format(object? value) => value switch
    {
        null => "",
        // "R" is the shortest round-trip form on .NET Core 3.0+; it also spells NaN/Infinity the invariant way.
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// <paramref name="field"/> as RFC 4180 wants it: unchanged unless it holds a comma, a double quote, CR or LF;
    /// then wrapped in double quotes with inner quotes doubled.
    /// </summary>
    /// <param name="field">the field's text</param>
    public static string Quote(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
    }

    static void WriteRow(TextWriter writer, IEnumerable<string> fields)
    {
        writer.Write(string.Join(',', fields));
        writer.Write('\n');
    }
}
