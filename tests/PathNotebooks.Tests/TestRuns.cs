using PathNotebooks.Experiments;

namespace PathNotebooks.Tests;

/// <summary>Run contexts for tests: CPU, tiny, a given base seed, tables into a fresh temporary folder.</summary>
public static class TestRuns
{
    public static RunContext Cpu(int seed = 0) => Kit.Init(new RunOptions
    {
        Device = "cpu", Size = ExperimentSize.Tiny, Seed = seed,
        OutputDirectory = Directory.CreateTempSubdirectory("pathnb-test-").FullName,
    });
}
