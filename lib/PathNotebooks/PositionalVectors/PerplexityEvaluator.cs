using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.PositionalVectors;

/// <summary>Per-position loss of a language model on long sequences.</summary>
/// <param name="LossPerPosition">mean cross-entropy (nats) at each position 0…L−1</param>
/// <param name="ByPosition">rows (position_start, position_end, loss, ppl) per bucket of positions [start, end)</param>
/// <param name="TrainLength">the training context length C</param>
public sealed record PerplexityResult(double[] LossPerPosition, DataFrame ByPosition, int TrainLength)
{
    /// <summary>
    /// Perplexity of sequences of <paramref name="length"/> tokens: exp(mean loss over positions 0…length−1).
    /// For a causal model (and the position-wise extensions here) this equals evaluating at that length. NaN if
    /// the sequences were shorter.
    /// </summary>
    public double PplAt(int length) =>
        length < 1 || length > LossPerPosition.Length ? double.NaN : Math.Exp(LossPerPosition.Take(length).Average());

    /// <summary>
    /// Perplexity of the band of positions [<paramref name="start"/>, <paramref name="end"/>): exp(mean loss over those
    /// positions only). [0, n) equals <see cref="PplAt"/>(n). NaN if the band is empty or beyond the sequences.
    /// </summary>
    /// <param name="start">first position of the band</param>
    /// <param name="end">one past the last position</param>
    public double PplBand(int start, int end) =>
        start < 0 || end <= start || end > LossPerPosition.Length ? double.NaN : Math.Exp(LossPerPosition.Skip(start).Take(end - start).Average());

    /// <summary>Perplexity at the training length C.</summary>
    public double PplAtC => PplAt(TrainLength);
    /// <summary>Perplexity at 2C.</summary>
    public double PplAt2C => PplAt(2 * TrainLength);
    /// <summary>Perplexity at 4C.</summary>
    public double PplAt4C => PplAt(4 * TrainLength);
}

/// <summary>Perplexity versus position: how a model trained at length C behaves at C, 2C, 4C.</summary>
public static class PerplexityEvaluator
{
    /// <summary>
    /// Runs <paramref name="model"/> (no gradients, eval mode) on <paramref name="sequences"/> <c>[N, L+1]</c> int64
    /// (inputs <c>[:, :L]</c>, targets <c>[:, 1:]</c>) in batches and averages the loss at every position.
    /// </summary>
    /// <param name="model">the model to evaluate</param>
    /// <param name="sequences">token ids <c>[N, L+1]</c> (int64)</param>
    /// <param name="trainLength">C, the training context length (for <see cref="PerplexityResult.PplAtC"/> etc.)</param>
    /// <param name="batchSize">sequences per forward pass (the positional-vector replacement hook estimates p from this batch)</param>
    /// <param name="bucketSize">positions per table row (default C/4, at least 1)</param>
    /// <param name="hook">optional hidden-state hook, e.g. <see cref="PositionalVectorReplacement.Hook"/></param>
    public static PerplexityResult Evaluate(CausalLM model, Tensor sequences, int trainLength, int batchSize = 8,
        int? bucketSize = null, Func<int, Tensor, Tensor>? hook = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(sequences, 2, nameof(sequences), "[N, L+1]");
        if (sequences.dtype != ScalarType.Int64)
            throw new ArgumentException($"sequences must be int64 token ids of shape [N, L+1], got {Shapes.Describe(sequences)}.", nameof(sequences));
        if (sequences.shape[1] < 2)
            throw new ArgumentException($"sequences must have shape [N, L+1] with L ≥ 1, got {Shapes.Describe(sequences)}.", nameof(sequences));
        if (trainLength < 1) throw new ArgumentOutOfRangeException(nameof(trainLength), trainLength, "trainLength must be ≥ 1.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        int bucket = bucketSize ?? Math.Max(1, trainLength / 4);
        if (bucket < 1) throw new ArgumentOutOfRangeException(nameof(bucketSize), bucketSize, "bucketSize must be ≥ 1.");

        int n = (int)sequences.shape[0], length = (int)sequences.shape[1] - 1;
        var device = model.parameters().First().device;
        var sum = new double[length];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            for (int start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var chunk = sequences[start..Math.Min(start + batchSize, n)].to(device);
                var inputs = chunk[.., ..length];
                var targets = chunk[.., 1..];
                var logits = model.Forward(inputs, hook);                                         // [B, L, V]
                var loss = F.cross_entropy(logits.flatten(0, 1).to(ScalarType.Float32), targets.flatten(), reduction: nn.Reduction.None)
                    .view(targets.shape).to(ScalarType.Float64).sum(dim: 0).cpu();                       // [L]
                var values = loss.data<double>().ToArray();
                for (int t = 0; t < length; t++) sum[t] += values[t];
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        var perPosition = sum.Select(s => s / n).ToArray();
        var startCol = new Int32DataFrameColumn("position_start");
        var endCol = new Int32DataFrameColumn("position_end");
        var lossCol = new DoubleDataFrameColumn("loss");
        var pplCol = new DoubleDataFrameColumn("ppl");
        for (int s = 0; s < length; s += bucket)
        {
            int e = Math.Min(s + bucket, length);
            double mean = perPosition.Skip(s).Take(e - s).Average();
            startCol.Append(s); endCol.Append(e); lossCol.Append(mean); pplCol.Append(Math.Exp(mean));
        }
        return new PerplexityResult(perPosition, new DataFrame(startCol, endCol, lossCol, pplCol), trainLength);
    }
}
