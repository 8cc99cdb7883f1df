using PathNotebooks.Models;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>
/// Streaming estimate of positional vectors: keeps one running sum <c>[L+1, T, D]</c> and a count per layer, so
/// memory does not grow with the number of sequences. Sums are kept in <see cref="Accumulator"/> precision
/// (float64 by default: the mean of 10⁵ float32 hidden states then loses nothing visible).
/// </summary>
public sealed class PositionalVectorExtractor : IDisposable
{
    readonly long[] counts;
    Tensor? sum;                                              // [L+1, T, D], allocated on the first Add's device

    /// <param name="layers">hidden-state layers to track: model layers + 1 (0 = embeddings)</param>
    /// <param name="length">sequence length T</param>
    /// <param name="dModel">hidden width D</param>
    /// <param name="accumulator">float64 (default) or float32</param>
    public PositionalVectorExtractor(int layers, int length, int dModel, ScalarType accumulator = ScalarType.Float64)
    {
        if (layers <= 0) throw new ArgumentOutOfRangeException(nameof(layers), layers, "layers must be ≥ 1 (model layers + 1).");
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        if (dModel <= 0) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, "dModel must be ≥ 1.");
        if (accumulator is not (ScalarType.Float64 or ScalarType.Float32))
            throw new ArgumentException($"accumulator must be Float64 or Float32, not {accumulator}.", nameof(accumulator));
        Layers = layers; Length = length; DModel = dModel; Accumulator = accumulator;
        counts = new long[layers];
    }

    /// <summary>An extractor sized for <paramref name="model"/> at sequence length <paramref name="length"/>.</summary>
    public static PositionalVectorExtractor For(CausalLM model, int length, ScalarType accumulator = ScalarType.Float64) =>
        new((model ?? throw new ArgumentNullException(nameof(model))).Config.Layers + 1, length, model.Config.DModel, accumulator);

    public int Layers { get; }
    public int Length { get; }
    public int DModel { get; }
    public ScalarType Accumulator { get; }

    /// <summary>Number of sequences added for <paramref name="layer"/>.</summary>
    public long Count(int layer) => counts[layer];

    /// <summary>Adds the hidden states <paramref name="hidden"/> <c>[B, T, D]</c> of B sequences at <paramref name="layer"/>.</summary>
    public void Add(int layer, Tensor hidden)
    {
        if (layer < 0 || layer >= Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in 0…{Layers - 1}.");
        Shapes.Exactly(hidden, nameof(hidden), "[B, T, D]", -1, Length, DModel);
        Shapes.Floating(hidden, nameof(hidden));
        using var scope = NewDisposeScope();
        if (sum is null)
            sum = zeros(new long[] { Layers, Length, DModel }, Accumulator, hidden.device).DetachFromDisposeScope();
        using (no_grad())
            sum[layer].add_(hidden.detach().to(Accumulator).to(sum.device).sum(dim: 0));
        counts[layer] += hidden.shape[0];
    }

    /// <summary>Runs <paramref name="model"/> on <paramref name="tokens"/> <c>[B, T]</c> (no gradients) and adds the hidden states of every layer.</summary>
    public void Add(CausalLM model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Exactly(tokens, nameof(tokens), "[B, T]", -1, Length);
        if (model.Config.Layers + 1 != Layers || model.Config.DModel != DModel)
            throw new ArgumentException($"model has {model.Config.Layers + 1} hidden-state layers of width {model.Config.DModel}; this extractor tracks {Layers} of width {DModel}.", nameof(model));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.Forward(tokens, (l, h) => { Add(l, h); return h; });
    }

    /// <summary>The positional vectors averaged so far (the extractor can keep accumulating afterwards).</summary>
    /// <exception cref="InvalidOperationException">a layer has no samples yet</exception>
    public PositionalDecomposition Result()
    {
        if (sum is null || counts.Any(c => c == 0))
            throw new InvalidOperationException("Every layer needs at least one sequence before Result(); call Add first.");
        using var scope = NewDisposeScope();
        var n = tensor(counts.Select(c => (double)c).ToArray(), Accumulator, sum.device).view(Layers, 1, 1);
        return new PositionalDecomposition(sum / n, counts.Min());
    }

    /// <summary>
    /// Positional vectors of <paramref name="model"/> from <paramref name="sequences"/> <c>[N, T]</c> (int64), run in
    /// batches of <paramref name="batchSize"/>.
    /// </summary>
    public static PositionalDecomposition Collect(CausalLM model, Tensor sequences, int batchSize = 16, ScalarType accumulator = ScalarType.Float64)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(sequences, 2, nameof(sequences), "[N, T]");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        using var extractor = For(model, (int)sequences.shape[1], accumulator);
        var device = model.parameters().First().device;
        for (long start = 0; start < sequences.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(start + batchSize, sequences.shape[0]);
            extractor.Add(model, sequences[(int)start..(int)end].to(device));
        }
        return extractor.Result();
    }

    public void Dispose() { sum?.Dispose(); sum = null; }
}
