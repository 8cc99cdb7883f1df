using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using PathNotebooks.Runtime;
using TorchSharp;

namespace PathNotebooks.Experiments;

/// <summary>
/// Everything an experiment needs to know about its run, passed explicitly: the device, the size (tiny/full), the
/// base seed with the streams derived from it, and the folder for result tables. A notebook gets it from
/// <see cref="Kit.Init"/> and hands it to every experiment's <c>Run(run, …)</c>.
/// </summary>
public sealed class RunContext
{
    readonly List<int> seedsUsed = new();

    internal RunContext(RuntimeInfo runtime, ExperimentSize size, int seed, string outputDirectory)
    {
        Runtime = runtime;
        Size = size;
        Seed = seed;
        OutputDirectory = outputDirectory;
    }

    /// <summary>What was loaded: libtorch, device, GPU, threads.</summary>
    public RuntimeInfo Runtime { get; }

    /// <summary>The torch device of this run.</summary>
    public torch.Device Device => Runtime.IsCuda ? torch.CUDA : torch.CPU;

    public ExperimentSize Size { get; }

    /// <summary>Base seed; every random stream is an offset from it (<see cref="SeedFor"/>).</summary>
    public int Seed { get; }

    /// <summary>Folder for this notebook's result files.</summary>
    public string OutputDirectory { get; }

    /// <summary>The size a run gets when none is asked for: full on CUDA, tiny on a CPU. The one place of this rule.</summary>
    public static ExperimentSize DefaultSize(bool isCuda) => isCuda ? ExperimentSize.Full : ExperimentSize.Tiny;

    /// <summary><paramref name="tiny"/> or <paramref name="full"/>, by the run's size.</summary>
    public T Pick<T>(T tiny, T full) => Size == ExperimentSize.Full ? full : tiny;

    /// <summary>The settings of the run's size.</summary>
    public T Settings<T>() where T : IExperimentSettings<T> => Pick(T.Tiny, T.Full);

    /// <summary>The seed of stream <paramref name="stream"/> for item <paramref name="index"/> (model, evaluation set, …):
    /// base seed + stream offset + index. Recorded in run.json.</summary>
    public int SeedFor(SeedStream stream, int index = 0)
    {
        int seed = Seed + (int)stream + index;
        lock (seedsUsed) if (!seedsUsed.Contains(seed)) seedsUsed.Add(seed);
        return seed;
    }

    /// <summary>A generator seeded with <see cref="SeedFor"/>.</summary>
    public torch.Generator Generator(SeedStream stream, int index = 0) => new((ulong)SeedFor(stream, index));

    /// <summary>A fresh model on the run's device, its initial weights given by <see cref="SeedStream.Model"/> + <paramref name="index"/>.</summary>
    public CausalLM NewModel(ModelConfig config, int index = 0) => CausalLM.Seeded(config, SeedFor(SeedStream.Model, index), Device);

    /// <summary>Seeds used so far.</summary>
    public IReadOnlyList<int> SeedsUsed { get { lock (seedsUsed) return seedsUsed.ToList(); } }

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
    public string SaveTable(DataFrame table, string name) => SaveTable(table, name, OutputDirectory);

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


    /// <summary>What this run is on, as one JSON object (size, seed, device, GPU, libtorch, TorchSharp, backend, natives, threads, seeds).</summary>
    public string Facts()
    {
        var facts = new System.Text.Json.Nodes.JsonObject
        {
            ["size"] = Size.ToString().ToLowerInvariant(),
            ["seed"] = Seed,
            ["device"] = Runtime.Device,
            ["gpu"] = Runtime.GpuName,
            ["libtorch"] = Runtime.LibtorchVersion,
            ["torchsharp"] = Runtime.TorchSharpVersion,
            ["torch_backend"] = Runtime.TorchBackend,
            ["natives"] = Runtime.NativeSource,
            ["threads"] = Runtime.Threads,
            ["seeds"] = new System.Text.Json.Nodes.JsonArray(SeedsUsed.Select(s => (System.Text.Json.Nodes.JsonNode)s).ToArray()),
        };
        return facts.ToJsonString();
    }

    public override string ToString() => $"{Runtime} · experiment size: {Size.ToString().ToLowerInvariant()} · seed {Seed} · tables → {OutputDirectory}";
}
