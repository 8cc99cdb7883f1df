using PathNotebooks.Benchmarks;

namespace PathNotebooks.Cli;

/// <summary>The kernels each `pathnb bench NAME` compares with SDPA.</summary>
static class BenchRegistry
{
    static readonly Dictionary<string, Func<IReadOnlyList<BenchKernel>>> Benches = new()
    {
        ["sdpa"] = () => Array.Empty<BenchKernel>(),
        ["fox"] = () => PathNotebooks.Forgetting.FoxBenchmark.Kernels,
        ["path"] = () => PathNotebooks.PaTH.PathBenchmark.Kernels,
    };

    public static IEnumerable<string> Names => Benches.Keys;
    public static Func<IReadOnlyList<BenchKernel>>? Get(string name) => Benches.TryGetValue(name, out var k) ? k : null;
}
