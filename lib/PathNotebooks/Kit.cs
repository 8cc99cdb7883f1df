using Microsoft.Data.Analysis;
using PathNotebooks.Runtime;
using TorchSharp;

namespace PathNotebooks;

/// <summary>Experiment size: <c>Tiny</c> runs in seconds on a CPU (CI), <c>Full</c> is the GPU experiment.</summary>
public enum ExperimentSize { Tiny, Full }

/// <summary>
/// What a notebook needs from the kit in one place: start the runtime, the device, the experiment size, seeding
/// and where result tables go. The runner sets PATHNB_DEVICE / PATHNB_SIZE / PATHNB_OUT; in VS Code the
/// defaults apply (auto device; tiny on CPU, full on CUDA).
/// </summary>
public static class Kit
{
    /// <summary>Starts the torch runtime (see <see cref="TorchRuntime.Initialize"/>) and returns what was loaded.</summary>
    public static RuntimeInfo Init(string? device = null) => TorchRuntime.Initialize(device);

    /// <summary>The torch device of this run.</summary>
    public static torch.Device Device { get { TorchRuntime.Initialize(quiet: true); return TorchRuntime.Device; } }

    /// <summary>The experiment size: PATHNB_SIZE if set, else tiny on CPU and full on CUDA.</summary>
    public static ExperimentSize Size
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("PATHNB_SIZE");
            if (!string.IsNullOrWhiteSpace(env))
                return env.Trim().ToLowerInvariant() switch
                {
                    "tiny" => ExperimentSize.Tiny,
                    "full" => ExperimentSize.Full,
                    _ => throw new ArgumentException($"PATHNB_SIZE must be 'tiny' or 'full', not '{env}'."),
                };
            return TorchRuntime.Initialize(quiet: true).IsCuda ? ExperimentSize.Full : ExperimentSize.Tiny;
        }
    }

    /// <summary>Seeds torch and returns a seeded <see cref="Random"/>; the same seed gives the same numbers on CPU.</summary>
    public static Random Seed(int seed)
    {
        lock (seeds) if (!seeds.Contains(seed)) seeds.Add(seed);
        return TorchRuntime.Seed(seed);
    }

    static readonly List<int> seeds = new();

    /// <summary>Seeds used in this process (recorded in run.json).</summary>
    public static IReadOnlyList<int> SeedsUsed { get { lock (seeds) return seeds.ToList(); } }

    /// <summary>
    /// What this process ran on, as one JSON object (device, GPU, libtorch, TorchSharp, backend, natives, threads, seeds):
    /// the notebook runner asks the kernel for it after the last cell and merges it into run.json.
    /// </summary>
    public static string RunFacts()
    {
        var info = TorchRuntime.Info;
        var facts = new System.Text.Json.Nodes.JsonObject
        {
            ["size"] = Size.ToString().ToLowerInvariant(),
            ["device"] = info?.Device,
            ["gpu"] = info?.GpuName,
            ["libtorch"] = info?.LibtorchVersion,
            ["torchsharp"] = info?.TorchSharpVersion,
            ["torch_backend"] = info?.TorchBackend,
            ["natives"] = info?.NativeSource,
            ["threads"] = info?.Threads,
            ["seeds"] = new System.Text.Json.Nodes.JsonArray(SeedsUsed.Select(s => (System.Text.Json.Nodes.JsonNode)s).ToArray()),
        };
        return facts.ToJsonString();
    }

    /// <summary>Folder for this notebook's result files (PATHNB_OUT, else results/scratch under the current folder).</summary>
    public static string OutputDirectory
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable("PATHNB_OUT") is { Length: > 0 } o ? o : Path.Combine("results", "scratch");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>
    /// Writes a results table as CSV (<see cref="IO.CsvTable"/>: UTF-8 without BOM, invariant culture, shortest
    /// round-trip numbers, temp file then rename) into <see cref="OutputDirectory"/>.
    /// </summary>
    /// <remarks>
    /// Wall-clock columns (named by the rule of <see cref="IO.TimingColumns"/>, e.g. "train seconds", "ms/step") go
    /// to <c>&lt;name&gt;.timings.csv</c> beside the table, after its label columns; <c>&lt;name&gt;.csv</c> holds the
    /// rest, so two runs with the same seed write identical <c>&lt;name&gt;.csv</c> files. A table without timing
    /// columns removes a <c>&lt;name&gt;.timings.csv</c> left by an earlier run.
    /// </remarks>
    /// <param name="table">the table, as the notebook shows it (timing columns included)</param>
    /// <param name="name">file name, with or without <c>.csv</c></param>
    /// <returns>the full path of <c>&lt;name&gt;.csv</c></returns>
    public static string SaveTable(DataFrame table, string name) => SaveTable(table, name, OutputDirectory);

    /// <summary>Writes a results table like <see cref="SaveTable(DataFrame, string)"/>, into <paramref name="directory"/>.</summary>
    /// <param name="table">the table, as the notebook shows it (timing columns included)</param>
    /// <param name="name">file name, with or without <c>.csv</c></param>
    /// <param name="directory">the folder for the files (created when missing)</param>
    /// <returns>the full path of <c>&lt;name&gt;.csv</c></returns>
    public static string SaveTable(DataFrame table, string name, string directory)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"name must be a plain file name, not '{name}'.", nameof(name));
        if (string.IsNullOrWhiteSpace(directory)) throw new ArgumentException("directory must name a folder.", nameof(directory));
        var stem = name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? name[..^".csv".Length] : name;
        var (results, timings) = IO.TimingColumns.Split(table);
        var timingsPath = Path.Combine(directory, stem + ".timings.csv");
        if (timings is not null) IO.CsvTable.Write(timings, timingsPath);
        else if (File.Exists(timingsPath)) File.Delete(timingsPath);
        return IO.CsvTable.Write(results, Path.Combine(directory, stem + ".csv"));
    }
}
