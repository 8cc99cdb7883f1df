using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>Which part of the first tokens' hidden states <see cref="PositionalAnalysis.RemovalHook"/> takes away.</summary>
public enum PositionalComponent
{
    /// <summary>Nothing removed (the reference run).</summary>
    None,
    /// <summary>h ← h − p (positional vector removed, semantic part kept).</summary>
    PositionalVector,
    /// <summary>h ← h − m = h − (p − u) (only the position-specific basis removed; the mean vector u stays).</summary>
    PositionalBasis,
    /// <summary>h ← p (semantic vector h − p removed).</summary>
    SemanticVector,
}

/// <summary>Sink and decay numbers of one run of <see cref="PositionalAnalysis.AttentionProfile"/>.</summary>
/// <param name="Sinks">rows (layer, sink_first, sink_first_k, sink_first_max_head): mean attention probability on token 0 / on tokens 0…k−1, averaged over batch, heads and queries t ≥ k</param>
/// <param name="Decay">rows (layer, distance_lo, distance_hi, attention): mean probability on keys at distance d ∈ [lo, hi] (keys j ≥ k only, so the sink does not mask the decay)</param>
public sealed record AttentionProfileResult(DataFrame Sinks, DataFrame Decay);

/// <summary>
/// Analyses of positional vectors (Dong et al. 2024): PCA per layer, cosine similarity between positions, their
/// effect on attention sinks and long-term decay, and their drift beyond the training window.
/// </summary>
public static class PositionalAnalysis
{
    /// <summary>
    /// Principal components of a set of vectors (rows). Centres the rows, then <c>torch.linalg.svd</c>.
    /// Signs are fixed so that each component's largest loading is positive (same numbers on every run).
    /// </summary>
    /// <param name="vectors"><c>[T, D]</c></param>
    /// <param name="components">k ≤ min(T, D)</param>
    /// <returns>scores <c>[T, k]</c> (coordinates of each row) and the explained-variance ratio <c>[k]</c></returns>
    public static (Tensor Scores, Tensor ExplainedRatio) Pca(Tensor vectors, int components = 2)
    {
        Shapes.Rank(vectors, 2, nameof(vectors), "[T, D]");
        Shapes.Floating(vectors, nameof(vectors));
        int k = components;
        if (k <= 0 || k > Math.Min(vectors.shape[0], vectors.shape[1]))
            throw new ArgumentOutOfRangeException(nameof(components), components, $"components must be in 1…min(T, D) = {Math.Min(vectors.shape[0], vectors.shape[1])}.");
        using var scope = NewDisposeScope();
        var x = vectors.detach().to(ScalarType.Float64);
        x = x - x.mean(new long[] { 0 }, keepdim: true);
        var (u, s, vh) = linalg.svd(x, fullMatrices: false);
        var loadings = vh[..k];                                                    // [k, D]
        var biggest = loadings.abs().argmax(1, keepdim: true);                     // [k, 1]
        var sign = loadings.gather(1, biggest).sign().squeeze(1);                  // [k]
        sign = where(sign == 0, ones_like(sign), sign);
        var scores = u[.., ..k] * s[..k] * sign;                                   // [T, k]
        var variance = s.square();
        var ratio = variance[..k] / variance.sum().clamp_min(1e-300);
        return (scores.MoveToOuterDisposeScope(), ratio.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// PCA of the positional vectors of each layer (centring over positions makes this the PCA of the basis m).
    /// Columns: layer, position, pc1, pc2 (… up to <paramref name="components"/>), explained1, explained2, ….
    /// </summary>
    public static DataFrame PcaTable(PositionalDecomposition decomposition, IEnumerable<int>? layers = null, int components = 2)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        var which = (layers ?? Enumerable.Range(0, decomposition.Layers)).ToList();
        foreach (var l in which) decomposition.CheckLayer(l, nameof(layers));
        var layerCol = new Int32DataFrameColumn("layer");
        var posCol = new Int32DataFrameColumn("position");
        var pcs = Enumerable.Range(1, components).Select(i => new DoubleDataFrameColumn($"pc{i}")).ToArray();
        var explained = Enumerable.Range(1, components).Select(i => new DoubleDataFrameColumn($"explained{i}")).ToArray();
        foreach (var l in which)
        {
            using var scope = NewDisposeScope();
            var (scores, ratio) = Pca(decomposition.P[l].cpu(), components);        // small; read back below
            var sc = scores.contiguous().data<double>().ToArray();
            var ra = ratio.data<double>().ToArray();
            for (int t = 0; t < decomposition.Length; t++)
            {
                layerCol.Append(l); posCol.Append(t);
                for (int c = 0; c < components; c++) { pcs[c].Append(sc[t * components + c]); explained[c].Append(ra[c]); }
            }
        }
        return new DataFrame(new DataFrameColumn[] { layerCol, posCol }.Concat(pcs).Concat(explained));
    }

    /// <summary>Cosine similarity between every pair of rows: <c>[T, D]</c> → <c>[T, T]</c> (float64; zero rows give 0).</summary>
    public static Tensor CosineSimilarity(Tensor vectors)
    {
        Shapes.Rank(vectors, 2, nameof(vectors), "[T, D]");
        Shapes.Floating(vectors, nameof(vectors));
        using var scope = NewDisposeScope();
        var x = vectors.detach().to(ScalarType.Float64);
        var unit = x / x.norm(1, keepdim: true).clamp_min(1e-300);
        return unit.matmul(unit.T).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cosine similarity between the positions of one layer: of the positional basis m (default; the shared mean
    /// vector u would push every entry towards 1) or of the raw positional vectors p. <c>[T, T]</c>, float64.
    /// </summary>
    public static Tensor CosineSimilarity(PositionalDecomposition decomposition, int layer, bool basis = true)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        decomposition.CheckLayer(layer, nameof(layer));
        return CosineSimilarity(basis ? decomposition.Basis[layer] : decomposition.P[layer]);
    }

    /// <summary>
    /// Drift of positional vectors beyond the training window. <paramref name="decomposition"/> must be measured on
    /// sequences longer than <paramref name="window"/> = C. For each layer and each position t ≥ C: the largest cosine
    /// similarity to an in-window vector (and which position s &lt; C attains it) and the norm ratio
    /// ‖p_t − ū‖ / mean_{s&lt;C} ‖p_s − ū‖, where ū is the mean of the in-window vectors (centring removes the
    /// shared mean vector, which would make every cosine ≈ 1). In-window positions t &lt; C are listed too, matched
    /// against the other in-window positions s ≠ t, so their values show how close neighbouring in-window vectors
    /// are and the curve can be compared across C (with few samples, estimation noise caps every cosine below 1).
    /// Columns: layer, position, max_cos, nearest_position, norm_ratio.
    /// </summary>
    public static DataFrame Drift(PositionalDecomposition decomposition, int window, bool centre = true)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        if (window < 1 || window >= decomposition.Length)
            throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be in 1…{decomposition.Length - 1} (vectors measured at T = {decomposition.Length}).");
        var layerCol = new Int32DataFrameColumn("layer");
        var posCol = new Int32DataFrameColumn("position");
        var cosCol = new DoubleDataFrameColumn("max_cos");
        var nearCol = new Int32DataFrameColumn("nearest_position");
        var normCol = new DoubleDataFrameColumn("norm_ratio");
        for (int l = 0; l < decomposition.Layers; l++)
        {
            using var scope = NewDisposeScope();
            var p = decomposition.P[l].to(ScalarType.Float64).cpu();               // [T, D]; small, and read back below
            if (centre) p = p - p[..window].mean(new long[] { 0 }, keepdim: true);
            var cos = CosineSimilarity(p)[.., ..window];                           // [T, C]
            var self = eye(decomposition.Length, window, ScalarType.Bool);             // t = s (in-window rows only)
            var (best, arg) = cos.masked_fill(self, double.NegativeInfinity).max(1);
            var norms = p.norm(dim: 1);
            var ratio = norms / norms[..window].mean().clamp_min(1e-300);
            var b = best.data<double>().ToArray(); var a = arg.data<long>().ToArray(); var r = ratio.data<double>().ToArray();
            for (int t = 0; t < decomposition.Length; t++)
            {
                layerCol.Append(l); posCol.Append(t); cosCol.Append(b[t]); nearCol.Append((int)a[t]); normCol.Append(r[t]);
            }
        }
        return new DataFrame(layerCol, posCol, cosCol, nearCol, normCol);
    }

    /// <summary>
    /// A <see cref="CausalLM.Forward(Tensor, Func{int, Tensor, Tensor}?)"/> hook that removes <paramref name="component"/> from the
    /// first <paramref name="firstK"/> tokens' hidden states after layer <paramref name="atLayer"/> (0 = embeddings);
    /// every later layer then sees the edited states. Needs sequences no longer than the decomposition.
    /// </summary>
    public static Func<int, Tensor, Tensor> RemovalHook(PositionalDecomposition decomposition, PositionalComponent component, int firstK = 4, int atLayer = 1)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        decomposition.CheckLayer(atLayer, nameof(atLayer));
        if (firstK < 1 || firstK > decomposition.Length)
            throw new ArgumentOutOfRangeException(nameof(firstK), firstK, $"firstK must be in 1…{decomposition.Length}.");
        return (layer, h) =>
        {
            if (layer != atLayer || component == PositionalComponent.None) return h;
            var p = decomposition.P[layer, ..firstK].to(h.dtype).to(h.device);     // [k, D]
            var head = h[.., ..firstK];                                            // [B, k, D]
            var edited = component switch
            {
                PositionalComponent.PositionalVector => head - p,
                PositionalComponent.PositionalBasis => head - (p - decomposition.Mean[layer].to(h.dtype).to(h.device)),
                PositionalComponent.SemanticVector => p.unsqueeze(0).expand_as(head),
                _ => head,
            };
            return cat(new[] { edited, h[.., firstK..] }, 1);
        };
    }

    /// <summary>
    /// Attention sinks and long-term decay of <paramref name="model"/> on <paramref name="tokens"/> <c>[B, T]</c>
    /// (explicit attention path via <see cref="Mixers.TokenMixer.CaptureAttention"/>; memory B·H·T² per layer), optionally
    /// with a hidden-state <paramref name="hook"/> such as <see cref="RemovalHook"/>. Distances are grouped in powers of
    /// two: [0,0], [1,1], [2,3], [4,7], ….
    /// </summary>
    public static AttentionProfileResult AttentionProfile(CausalLM model, Tensor tokens, int firstK = 4, Func<int, Tensor, Tensor>? hook = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(tokens, 2, nameof(tokens), "[B, T]");
        int t = (int)tokens.shape[1];
        if (firstK < 1 || firstK >= t) throw new ArgumentOutOfRangeException(nameof(firstK), firstK, $"firstK must be in 1…T−1 = {t - 1}.");
        var sinkLayer = new Int32DataFrameColumn("layer");
        var sink0 = new DoubleDataFrameColumn("sink_first");
        var sinkK = new DoubleDataFrameColumn("sink_first_k");
        var sinkMax = new DoubleDataFrameColumn("sink_first_max_head");
        var decayLayer = new Int32DataFrameColumn("layer");
        var lo = new Int32DataFrameColumn("distance_lo");
        var hi = new Int32DataFrameColumn("distance_hi");
        var att = new DoubleDataFrameColumn("attention");
        var previous = model.Blocks.Select(b => b.Mixer.CaptureAttention).ToArray();
        try
        {
            model.CaptureAttention(true);
            using (no_grad())
            using (var run = NewDisposeScope())
                model.Forward(tokens.to(model.parameters().First().device), hook);
            for (int l = 0; l < model.Blocks.Count; l++)
            {
                using var scope = NewDisposeScope();
                var p = model.Blocks[l].Mixer.LastAttention!.to(ScalarType.Float64);   // [B, H, T, T]
                var queries = p[.., .., firstK..];                                          // [B, H, T−k, T]
                var perHead = queries[.., .., .., 0].mean(new long[] { 0, 2 });             // [H]
                sinkLayer.Append(l + 1);
                sink0.Append(perHead.mean().item<double>());
                sinkMax.Append(perHead.max().item<double>());
                sinkK.Append(queries[.., .., .., ..firstK].sum(-1).mean().item<double>());
                for (int start = 0; start < t - firstK; start = start == 0 ? 1 : start * 2)
                {
                    int end = Math.Min(start == 0 ? 0 : 2 * start - 1, t - firstK - 1);
                    double total = 0; long count = 0;
                    for (int d = start; d <= end; d++)
                    {
                        var diag = p.diagonal(-d, -2, -1)[.., .., firstK..];                   // keys j ≥ k at distance d: [B, H, T−d−k]
                        total += diag.sum().item<double>(); count += diag.numel();
                    }
                    decayLayer.Append(l + 1); lo.Append(start); hi.Append(end); att.Append(total / Math.Max(count, 1));
                }
            }
        }
        finally
        {
            for (int l = 0; l < previous.Length; l++) model.Blocks[l].Mixer.CaptureAttention = previous[l];
        }
        return new AttentionProfileResult(new DataFrame(sinkLayer, sink0, sinkK, sinkMax), new DataFrame(decayLayer, lo, hi, att));
    }

    /// <summary>
    /// The paper's ablation in one table: <see cref="AttentionProfile"/> with nothing removed and with each
    /// <see cref="PositionalComponent"/> removed from the first <paramref name="firstK"/> tokens after layer
    /// <paramref name="atLayer"/>. Both tables get a leading "condition" column.
    /// </summary>
    public static AttentionProfileResult AttentionEffects(CausalLM model, Tensor tokens, PositionalDecomposition decomposition, int firstK = 4, int atLayer = 1)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        Shapes.Rank(tokens, 2, nameof(tokens), "[B, T]");
        if (tokens.shape[1] > decomposition.Length)
            throw new ArgumentException($"tokens must have shape [B, T ≤ {decomposition.Length}] (the decomposition's length), got {Shapes.Describe(tokens)}.", nameof(tokens));
        DataFrame? sinks = null, decay = null;
        foreach (var component in Enum.GetValues<PositionalComponent>())
        {
            var result = AttentionProfile(model, tokens, firstK, RemovalHook(decomposition, component, firstK, atLayer));
            var s = WithCondition(result.Sinks, component.ToString());
            var d = WithCondition(result.Decay, component.ToString());
            sinks = sinks is null ? s : Concat(sinks, s);
            decay = decay is null ? d : Concat(decay, d);
        }
        return new AttentionProfileResult(sinks!, decay!);
    }

    /// <summary>Rows of <paramref name="a"/> then rows of <paramref name="b"/> (same columns: int, double or string).</summary>
    internal static DataFrame Concat(DataFrame a, DataFrame b)
    {
        var columns = new List<DataFrameColumn>();
        for (int i = 0; i < a.Columns.Count; i++)
        {
            DataFrameColumn joined = (a.Columns[i], b.Columns[i]) switch
            {
                (Int32DataFrameColumn x, Int32DataFrameColumn y) => new Int32DataFrameColumn(x.Name, x.Concat(y)),
                (DoubleDataFrameColumn x, DoubleDataFrameColumn y) => new DoubleDataFrameColumn(x.Name, x.Concat(y)),
                (StringDataFrameColumn x, StringDataFrameColumn y) => new StringDataFrameColumn(x.Name, x.Concat(y)),
                var (x, _) => throw new ArgumentException($"column {x.Name} has unsupported type {x.DataType}.", nameof(a)),
            };
            columns.Add(joined);
        }
        return new DataFrame(columns);
    }

    static DataFrame WithCondition(DataFrame table, string condition)
    {
        var column = new StringDataFrameColumn("condition", Enumerable.Repeat(condition, (int)table.Rows.Count));
        return new DataFrame(new DataFrameColumn[] { column }.Concat(table.Columns));
    }
}
