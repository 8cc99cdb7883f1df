using System.Globalization;
using PathNotebooks.Checks;
using PathNotebooks.Runtime;
using Spectre.Console;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb check ops`.</summary>
sealed record CheckOpsOptions(string? Device, string? Only, int? Cases, int? Seconds, string? Seed);

/// <summary>
/// `pathnb check ops`: the property suite (<see cref="OpProperties"/>) on this machine's CPU or GPU, one line per
/// property as it finishes, then a table; the exit code is 1 when any property failed. The failure text holds the
/// shrunk case and the seed that replays it.
/// </summary>
static class CheckOpsCommand
{
    public static int Run(CheckOpsOptions options)
    {
        var info = TorchRuntime.Initialize(options.Device);
        var target = PropertyTarget.For(TorchRuntime.Device);
        var budget = new PropertyBudget(options.Cases ?? PropertyBudget.Default.Cases, options.Seconds ?? PropertyBudget.Default.Seconds, options.Seed);
        var filters = options.Only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        var properties = OpProperties.All.Where(p => filters.Length == 0 || filters.Any(f => p.Name.Contains(f, StringComparison.OrdinalIgnoreCase))).ToList();
        if (properties.Count == 0)
        {
            Console.Error.WriteLine($"no property matches --only {options.Only} (known: {string.Join(", ", OpProperties.All.Select(p => p.Name))}).");
            return 2;
        }
        Console.WriteLine($"device: {(info.IsCuda ? $"CUDA ({info.GpuName})" : "CPU")}; dtypes: {string.Join(", ", target.DTypes)}; " +
            $"budget: {budget.Cases} cases or {budget.Seconds:F0} s per property{(budget.Seed is null ? "" : $"; seed {budget.Seed}")}");
        var outcomes = new List<PropertyOutcome>();
        foreach (var property in properties)
        {
            var outcome = property.Run(target, budget);
            outcomes.Add(outcome);
            Console.WriteLine($"{(outcome.Passed ? "pass" : "FAIL")}  {property.Name,-22} {outcome.Cases,5} cases  {outcome.Elapsed.TotalSeconds,6:F1} s");
            if (!outcome.Passed) Console.WriteLine(Indent(outcome.Failure!));
        }
        var table = new Table().AddColumns("property", "covers", "cases", "s", "result");
        foreach (var (p, o) in properties.Zip(outcomes))
            table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.Covers), o.Cases.ToString(CultureInfo.InvariantCulture),
                o.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture), o.Passed ? "pass" : "[red]FAIL[/]");
        AnsiConsole.Write(table);
        int failed = outcomes.Count(o => !o.Passed);
        Console.WriteLine(failed == 0 ? $"all {outcomes.Count} properties passed." : $"{failed} of {outcomes.Count} properties failed (replay: --only NAME --seed SEED from the failure).");
        return failed == 0 ? 0 : 1;
    }

    static string Indent(string text) => string.Join('\n', text.Split('\n').Select(l => "      " + l));
}
