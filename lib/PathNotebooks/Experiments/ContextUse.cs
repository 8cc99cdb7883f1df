using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>
/// How far back a trained model looks, measured two ways: the attended distance of each head (mean i − j under its
/// attention probabilities), and the loss when each prediction is given only its last <c>context</c> tokens (a
/// sliding-window evaluation) compared with the full-context loss on the same positions.
/// </summary>
public static class ContextUse
{
    /// <summary>
    /// Attended distance per layer, head and query: Σ_j p_ij·(i − j), averaged over the batch, from the attention
    /// probabilities of the explicit path (<see cref="Mixers.TokenMixer.CaptureAttention"/>; memory B·H·T² per layer).
    /// </summary>
    /// <param name="model">a model whose mixers record attention probabilities (softmax, FoX, PaTH)</param>
    /// <param name="tokens">token ids <c>[B, T]</c></param>
    /// <returns><c>[layers][heads][T]</c> mean distances in tokens (query i can reach at most i)</returns>
    public static double[][][] AttendedDistanceByQuery(CausalLM model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(tokens, 2, nameof(tokens), "[B, T]");
        var previous = model.Blocks.Select(b => b.Mixer.CaptureAttention).ToArray();
        try
        {
            model.CaptureAttention(true);
            model.eval();
            using (no_grad())
            using (NewDisposeScope())
                model.forward(tokens.to(model.parameters().First().device));
            var result = new double[model.Blocks.Count][][];
            for (int l = 0; l < model.Blocks.Count; l++)
            {
                using var scope = NewDisposeScope();
                var p = model.Blocks[l].Mixer.LastAttention
                    ?? throw new InvalidOperationException($"layer {l + 1} ({model.Blocks[l].Mixer.Spec.Name}) records no attention probabilities.");
                var perQuery = DistanceByQuery(p.to(ScalarType.Float64)).mean(new long[] { 0 });   // [H, T]
                result[l] = Enumerable.Range(0, (int)perQuery.shape[0]).Select(h => perQuery[h].cpu().data<double>().ToArray()).ToArray();
            }
            return result;
        }
        finally
        {
            for (int l = 0; l < previous.Length; l++)
            {
                model.Blocks[l].Mixer.CaptureAttention = previous[l];
            }
        }
    }

    /// <summary>
    /// Mean of <paramref name="byQuery"/> (<see cref="AttendedDistanceByQuery"/>) over the queries i ∈
    /// [<paramref name="fromQuery"/>, <paramref name="toQuery"/>) (0-based positions): <c>[layers][heads]</c>.
    /// </summary>
    public static double[][] AttendedDistance(double[][][] byQuery, int fromQuery, int toQuery)
    {
        ArgumentNullException.ThrowIfNull(byQuery);
        int t = byQuery[0][0].Length;
        if (fromQuery < 0 || toQuery <= fromQuery || toQuery > t)
            throw new ArgumentOutOfRangeException(nameof(toQuery), toQuery, $"need 0 ≤ fromQuery < toQuery ≤ T = {t}, got [{fromQuery}, {toQuery}).");
        return byQuery.Select(layer => layer.Select(head => head[fromQuery..toQuery].Average()).ToArray()).ToArray();
    }

    /// <summary>
    /// Σ_j p_ij·(i − j) for attention probabilities <c>[B, H, T, T]</c> (zero above the diagonal): the mean distance
    /// of each query's attention, <c>[B, H, T]</c>.
    /// </summary>
    public static Tensor DistanceByQuery(Tensor probabilities)
    {
        Shapes.Rank(probabilities, 4, nameof(probabilities), "[B, H, T, T]");
        using var scope = NewDisposeScope();
        long t = probabilities.shape[2];
        var i = arange(t, dtype: probabilities.dtype, device: probabilities.device);
        var distance = (i.unsqueeze(1) - i.unsqueeze(0)).clamp_min(0);                  // [T, T]: i − j below the diagonal
        return (probabilities * distance).sum(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mean distance of uniform causal attention over the same queries, (1/n)·Σ_i i/2: what a head that ignores
    /// position would give (a reference for <see cref="AttendedDistance"/>).
    /// </summary>
    public static double UniformDistance(int fromQuery, int toQuery) =>
        Enumerable.Range(fromQuery, toQuery - fromQuery).Average(i => i / 2.0);

    /// <summary>
    /// Per-position loss with the context cut to the last <paramref name="context"/> tokens: entry i is the mean
    /// cross-entropy of predicting token i + 1 from tokens max(0, i − context + 1) … i only (the model is run on that
    /// sub-window alone). For i &lt; context this is the full-context loss of
    /// <c>FoxExperiment.LossByPosition</c>, computed the same way.
    /// </summary>
    /// <param name="model">the model (run without gradients)</param>
    /// <param name="windows">token ids <c>[N, T + 1]</c> (int64)</param>
    /// <param name="context">tokens each prediction may see (≥ 1, ≤ T)</param>
    /// <param name="batch">sub-windows per forward pass</param>
    /// <returns>T losses (nats)</returns>
    public static double[] CutContextLossByPosition(CausalLM model, Tensor windows, int context, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(windows, 2, nameof(windows), "[N, T + 1]");
        long n = windows.shape[0], t = windows.shape[1] - 1;
        if (context < 1 || context > t) throw new ArgumentOutOfRangeException(nameof(context), context, $"context must be in 1 … T = {t}.");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        model.eval();
        var sum = new double[t];
        using (no_grad())
        {
            // Positions i < context: the whole prefix fits, one pass over the first context + 1 tokens.
            for (long start = 0; start < n; start += batch)
            {
                using var scope = NewDisposeScope();
                var chunk = windows[(int)start..(int)Math.Min(n, start + batch), ..(context + 1)];
                var loss = Trainer.PerTokenLoss(model, chunk[.., ..context], chunk[.., 1..]).to(ScalarType.Float64).sum(new long[] { 0 }).cpu().data<double>().ToArray();
                for (int i = 0; i < context; i++) sum[i] += loss[i];
            }
            // Positions i ≥ context: sub-window s = i − context + 1 … i + 1, the last prediction of each.
            long subWindows = t - context;                                               // i = context … T − 1
            if (subWindows > 0)
            {
                using var all = windows[.., 1..].unfold(1, context + 1, 1).reshape(-1, context + 1);   // [N·(T − context), context + 1]
                long total = all.shape[0];
                for (long start = 0; start < total; start += batch)
                {
                    using var scope = NewDisposeScope();
                    long end = Math.Min(total, start + batch);
                    var chunk = all[(int)start..(int)end];
                    var last = Trainer.PerTokenLoss(model, chunk[.., ..context], chunk[.., 1..])[.., -1].to(ScalarType.Float64).cpu().data<double>().ToArray();
                    for (long r = start; r < end; r++) sum[context + (r % subWindows)] += last[r - start];
                }
            }
        }
        return sum.Select(x => x / n).ToArray();
    }
}
