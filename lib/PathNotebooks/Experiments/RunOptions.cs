namespace PathNotebooks.Experiments;

/// <summary>
/// What a run is asked for: device, size, base seed and results folder. Null fields take the defaults of
/// <see cref="RunContext"/> (auto device; tiny on CPU, full on CUDA; seed 0; results/scratch).
/// </summary>
public sealed record RunOptions
{
    /// <summary>"auto" (CUDA when present), "cpu" or "cuda"; null = auto.</summary>
    public string? Device { get; init; }
    /// <summary>null = tiny on CPU, full on CUDA.</summary>
    public ExperimentSize? Size { get; init; }
    /// <summary>Base seed of every random stream (<see cref="SeedStream"/>).</summary>
    public int Seed { get; init; }
    /// <summary>Folder for result tables; null = results/scratch under the current folder.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>
    /// The options the notebook runner (<c>pathnb</c>) passes to the kernel it starts — PATHNB_DEVICE, PATHNB_SIZE and
    /// PATHNB_OUT, read here and nowhere else — or the defaults when a notebook runs in VS Code or Jupyter.
    /// </summary>
    public static RunOptions FromRunner()
    {
        static string? Read(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v.Trim() : null;
        return new RunOptions
        {
            Device = Read("PATHNB_DEVICE"),
            Size = Read("PATHNB_SIZE")?.ToLowerInvariant() switch
            {
                null => null,
                "tiny" => ExperimentSize.Tiny,
                "full" => ExperimentSize.Full,
                var other => throw new ArgumentException($"PATHNB_SIZE must be 'tiny' or 'full', not '{other}'."),
            },
            OutputDirectory = Read("PATHNB_OUT"),
        };
    }
}
