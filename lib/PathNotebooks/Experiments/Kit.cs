using PathNotebooks.Runtime;

namespace PathNotebooks.Experiments;

/// <summary>
/// The notebook's entry point: <see cref="Init(RunOptions?)"/> starts the torch runtime and returns the
/// <see cref="RunContext"/> (device, size, seed, results folder) that the notebook passes to its experiments.
/// </summary>
public static class Kit
{
    static RunContext? latest;

    /// <summary>
    /// Starts the torch runtime (<see cref="TorchRuntime.Initialize"/>: CUDA first when present; it must come before
    /// any other torch call) and returns this run's context. Options left null come from the notebook runner when it
    /// started this kernel (<see cref="RunOptions.FromRunner"/>), else the defaults: auto device, tiny on CPU and full
    /// on CUDA (<see cref="RunContext.DefaultSize"/>), seed 0, results/scratch.
    /// </summary>
    public static RunContext Init(RunOptions? options = null)
    {
        var runner = RunOptions.FromRunner();
        var device = options?.Device ?? runner.Device ?? "auto";
        var runtime = TorchRuntime.Initialize(device);
        var size = options?.Size ?? runner.Size ?? RunContext.DefaultSize(runtime.IsCuda);
        var output = options?.OutputDirectory ?? runner.OutputDirectory ?? Path.Combine("results", "scratch");
        Directory.CreateDirectory(output);
        var context = new RunContext(runtime, size, options?.Seed ?? runner.Seed, output);
        latest = context;
        return context;
    }

    /// <summary>
    /// The facts of the run made by the last <see cref="Init"/> in this process, as JSON (see <see cref="RunContext.Facts"/>):
    /// the notebook runner asks the kernel for them after the last cell and merges them into run.json.
    /// </summary>
    public static string RunFacts() => latest?.Facts() ?? "{}";
}
