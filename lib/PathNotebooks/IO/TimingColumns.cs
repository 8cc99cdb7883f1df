using Microsoft.Data.Analysis;

namespace PathNotebooks.IO;

/// <summary>
/// Tells wall-clock columns of a results table apart from its results, so that the results file of a seeded run is
/// the same byte for byte every time while the timings still get written (see <see cref="Experiments.RunContext.SaveTable(DataFrame, string)"/>).
/// </summary>
/// <remarks>
/// The rule, on the column name (case-insensitive, surrounding spaces ignored): a column is a timing column when
/// the whole name is <c>s</c>, <c>ms</c> or <c>seconds</c>, or its last word is <c>seconds</c>, <c>(s)</c>,
/// <c>(ms)</c>, or a rate per something in seconds or milliseconds (<c>s/…</c>, <c>ms/…</c>).
/// Matches: "train seconds", "seconds", "s", "fwd (ms)", "ms/step". Not matches: "shift s", "steps", "loss".
/// </remarks>
public static class TimingColumns
{
    static readonly string[] TimingWords = { "seconds", "(s)", "(ms)" };
    static readonly string[] TimingRatePrefixes = { "s/", "ms/" };

    /// <summary>Whether a column of this name holds wall-clock times (the rule is in the remarks of <see cref="TimingColumns"/>).</summary>
    /// <param name="columnName">the column's name</param>
    public static bool IsTiming(string columnName)
    {
        ArgumentNullException.ThrowIfNull(columnName);
        var name = columnName.Trim();
        if (name.Equals("s", StringComparison.OrdinalIgnoreCase) || name.Equals("ms", StringComparison.OrdinalIgnoreCase))
            return true;
        var lastWord = name[(name.LastIndexOf(' ') + 1)..];
        return TimingWords.Any(w => lastWord.Equals(w, StringComparison.OrdinalIgnoreCase))
            || TimingRatePrefixes.Any(p => lastWord.StartsWith(p, StringComparison.OrdinalIgnoreCase) && lastWord.Length > p.Length);
    }

    /// <summary>
    /// Splits <paramref name="table"/> into its results (every column but the timing ones) and its timings (the
    /// timing columns, after the table's label columns — text, integer and boolean ones such as "model" or
    /// "eval length" — so each timing row can be matched to its result row).
    /// </summary>
    /// <param name="table">a results table</param>
    /// <returns>the results, and the timings or null when the table has no timing column</returns>
    public static (DataFrame Results, DataFrame? Timings) Split(DataFrame table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var columns = table.Columns.ToList();
        var timing = columns.Where(c => IsTiming(c.Name)).ToList();
        if (timing.Count == 0) return (table, null);
        var results = new DataFrame(columns.Where(c => !IsTiming(c.Name)).Select(c => c.Clone()));
        var labels = columns.Where(c => !IsTiming(c.Name) && IsLabel(c.DataType));
        var timings = new DataFrame(labels.Concat(timing).Select(c => c.Clone()));
        return (results, timings);
    }

    static bool IsLabel(Type type) =>
        type == typeof(string) || type == typeof(bool) || type == typeof(char)
        || type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte)
        || type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte);
}
