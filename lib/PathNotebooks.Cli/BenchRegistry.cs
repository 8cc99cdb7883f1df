using PathNotebooks.Kernels;

namespace PathNotebooks.Cli;

/// <summary>The kernels one `pathnb bench NAME` compares with SDPA, and the inputs they need.</summary>
/// <param name="Kernels">the variants of the bench's ops (without the SDPA baseline)</param>
/// <param name="Inputs">what to draw for every shape: the union of the ops' input specs</param>
sealed record BenchSelection(IReadOnlyList<KernelVariant> Kernels, KernelInputSpec Inputs);

/// <summary>`pathnb bench NAME` reads <see cref="KernelRegistry"/>: one bench per op, named after it.</summary>
static class BenchRegistry
{
    /// <summary>Benches that time more than their own op: `bench path` has always put PaTH-FoX beside PaTH.</summary>
    static readonly Dictionary<string, string[]> OpsOfBench = new() { ["path"] = ["path", "path-fox"] };

    public static IEnumerable<string> Names => KernelRegistry.Ops.Select(o => o.Name);

    public static BenchSelection? Get(string name)
    {
        if (KernelRegistry.Find(name) is null) return null;
        var ops = (OpsOfBench.TryGetValue(name, out var names) ? names : [name]).Select(KernelRegistry.Get).ToList();
        // The baseline runs first in every table; the sdpa bench therefore has no kernels of its own.
        var kernels = ops.SelectMany(o => o.Variants).Where(v => v.Name != KernelRegistry.Baseline.Name).ToList();
        var inputs = ops.Aggregate(KernelRegistry.Get("sdpa").Inputs, (spec, op) => spec.Union(op.Inputs));
        return new BenchSelection(kernels, inputs);
    }
}
