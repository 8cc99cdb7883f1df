using System.Diagnostics;
using Microsoft.Data.Analysis;
using TorchSharp;
using PathNotebooks.Eviction;
using PathNotebooks.Mixers;
using PathNotebooks.Softmax;
using static TorchSharp.torch;

namespace PathNotebooks.Benchmarks;

/// <summary>
/// Decoding speed of one attention layer token by token: LTE with its fixed-size cache (the paper's W = 768, b = 512,
/// 4 sinks) against softmax attention with a full KV cache (RoPE), from an empty cache up to each context length.
/// Reports tokens per second over the whole run (B sequences in parallel), the ratio to the full cache in the same run,
/// and the bytes each cache holds at the end.
/// </summary>
public static class DecodeBenchmark
{
    /// <summary>The LTE layer the benchmark decodes with.</summary>
    public static LteSpec Lte => new() { Window = 768, Buffer = 512, Sinks = 4 };

    /// <param name="contexts">tokens to decode per run (each from an empty cache)</param>
    /// <param name="batch">sequences B</param>
    /// <param name="heads">heads H</param>
    /// <param name="headDim">D per head (DModel = H·D)</param>
    /// <param name="device">where to run</param>
    /// <param name="dtype">the layers' dtype</param>
    /// <param name="log">progress lines (optional)</param>
    public static DataFrame Run(IReadOnlyList<int> contexts, int batch, int heads, int headDim, Device device, ScalarType dtype, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(contexts);
        if (contexts.Count == 0 || contexts.Any(c => c < 1)) throw new ArgumentException("contexts must list lengths ≥ 1.", nameof(contexts));
        var dims = new MixerDimensions(heads * headDim, heads);
        var layers = new (string Name, MixerSpec Spec)[] { ("full KV cache (RoPE)", new SoftmaxAttentionSpec()), ($"LTE cache (W = {Lte.Window}, b = {Lte.Buffer})", Lte) };
        var rows = new List<(string Name, int Context, double TokensPerSecond, double Mib)>();
        foreach (int context in contexts)
            foreach (var (name, spec) in layers)
            {
                manual_seed(0);
                using var mixer = spec.Create(dims);
                mixer.to(device).to(dtype);
                mixer.eval();
                using var x = randn(new long[] { batch, context, dims.DModel }, dtype: dtype, device: device);
                using var state = mixer.NewState(batch);
                using var _ = no_grad();
                for (int t = 0; t < Math.Min(8, context); t++) { using var scope = NewDisposeScope(); mixer.Step(x[.., t], state); }   // warm-up
                state.Dispose();
                using var timed = mixer.NewState(batch);
                Sync(device);
                var clock = Stopwatch.StartNew();
                for (int t = 0; t < context; t++)
                {
                    using var scope = NewDisposeScope();
                    mixer.Step(x[.., t], timed);
                }
                Sync(device);
                double seconds = clock.Elapsed.TotalSeconds;
                rows.Add((name, context, batch * context / seconds, timed.Bytes / (1024.0 * 1024)));
                log?.Invoke($"decode {name}, {context} tokens × {batch}: {batch * context / seconds:F0} tokens/s, cache {timed.Bytes / (1024.0 * 1024):F1} MiB");
            }
        double Baseline(int context) => rows.First(r => r.Context == context && r.Name == layers[0].Name).TokensPerSecond;
        return new DataFrame(
            new StringDataFrameColumn("layer", rows.Select(r => r.Name)),
            new PrimitiveDataFrameColumn<int>("context", rows.Select(r => r.Context)),
            new DoubleDataFrameColumn("tokens/s", rows.Select(r => Math.Round(r.TokensPerSecond, 1))),
            new DoubleDataFrameColumn("× full cache", rows.Select(r => Math.Round(r.TokensPerSecond / Baseline(r.Context), 3))),
            new DoubleDataFrameColumn("cache MiB", rows.Select(r => Math.Round(r.Mib, 2))));
    }

    static void Sync(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
    }
}
