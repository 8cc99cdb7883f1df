using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>
/// Split-half drift of positional vectors beyond the window, with its reference levels (see
/// <see cref="PositionalDiagnostics.DriftWithFloor"/>). Arrays are per position t of the long sequences.
/// </summary>
/// <param name="CrossMaxCos">max over in-window s of cos(m^A_t, m^B_s): half A's vector at t against half B's in-window vectors</param>
/// <param name="FloorMaxCos">the same statistic for half A's vector at t with its coordinates randomly permuted (no relation to any in-window vector)</param>
/// <param name="Window">the training length C</param>
public sealed record DriftFloorResult(double[] CrossMaxCos, double[] FloorMaxCos, int Window)
{
    /// <summary>Mean of <see cref="CrossMaxCos"/> over in-window t &lt; C: what an in-window vector scores against the other half's estimate of itself (the copy level).</summary>
    public double CopyLevel => CrossMaxCos.Take(Window).Average();
    /// <summary>Mean of <see cref="CrossMaxCos"/> over t ∈ [2C, end): how close far positional vectors come to any in-window one.</summary>
    public double Far => CrossMaxCos.Skip(2 * Window).Average();
    /// <summary>Mean of <see cref="FloorMaxCos"/> over t ∈ [2C, end): what an unrelated vector of the same coordinates scores (the noise floor).</summary>
    public double Floor => FloorMaxCos.Skip(2 * Window).Average();
    /// <summary>(Far − Floor) / (CopyLevel − Floor): 0 = far vectors look like unrelated vectors, 1 = like copies of in-window ones.</summary>
    public double Relative => (Far - Floor) / Math.Max(CopyLevel - Floor, 1e-12);
}

/// <summary>
/// Measurements behind notebook 02's explanations: how much of the hidden state is positional at every layer,
/// whether later positions are built from the first token (anchor ablation), whether far positional vectors differ
/// from in-window ones by more than estimation noise, and which in-window position a far position resembles.
/// </summary>
public static class PositionalDiagnostics
{
    /// <summary>
    /// Per layer l = 0…L: the mean norm of the positional basis ‖m[l, t]‖ over t, the mean norm ‖h − u[l]‖ of the hidden
    /// states around the layer's mean vector, and the positional share of their variance,
    /// N·Σₜ‖m[l, t]‖² / Σₛ,ₜ‖h⁽ˢ⁾[l, t] − u[l]‖² (the rest is the semantic part h − p). <paramref name="decomposition"/>
    /// must be estimated from these <paramref name="sequences"/>; then the split is exact. Estimation noise adds about
    /// 1/N of the semantic variance to the share. Columns: layer, basis_norm, hidden_norm, position_share.
    /// </summary>
    /// <param name="model">the model the decomposition came from</param>
    /// <param name="sequences">the sequences <c>[N, T]</c> (int64) the decomposition was averaged over</param>
    /// <param name="decomposition">positional vectors of <paramref name="model"/> from <paramref name="sequences"/></param>
    /// <param name="batchSize">sequences per forward pass</param>
    public static DataFrame LayerShares(CausalLM model, Tensor sequences, PositionalDecomposition decomposition, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(decomposition);
        Shapes.Exactly(sequences, nameof(sequences), "[N, T]", -1, decomposition.Length);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        int layers = decomposition.Layers;
        var total = new double[layers];
        var hiddenNorm = new double[layers];
        long n = sequences.shape[0];
        var device = model.parameters().First().device;
        using (no_grad())
            for (long start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var tokens = sequences[(int)start..(int)Math.Min(start + batchSize, n)].to(device);
                model.Forward(tokens, (l, h) =>
                {
                    var centred = h.detach().to(ScalarType.Float64) - decomposition.Mean[l].to(ScalarType.Float64).to(h.device);
                    total[l] += centred.square().sum().item<double>();
                    hiddenNorm[l] += centred.norm(dim: -1).sum().item<double>();
                    return h;
                });
            }
        var layerCol = new Int32DataFrameColumn("layer");
        var basisCol = new DoubleDataFrameColumn("basis_norm");
        var hiddenCol = new DoubleDataFrameColumn("hidden_norm");
        var shareCol = new DoubleDataFrameColumn("position_share");
        for (int l = 0; l < layers; l++)
        {
            using var scope = NewDisposeScope();
            var basis = decomposition.Basis[l].to(ScalarType.Float64).cpu();
            layerCol.Append(l);
            basisCol.Append(basis.norm(dim: 1).mean().item<double>());
            hiddenCol.Append(hiddenNorm[l] / (n * decomposition.Length));
            shareCol.Append(n * basis.square().sum().item<double>() / Math.Max(total[l], 1e-300));
        }
        return new DataFrame(layerCol, basisCol, hiddenCol, shareCol);
    }

    /// <summary>
    /// Positional vectors of <paramref name="model"/> on <paramref name="sequences"/> <c>[N, T]</c> with a hidden-state
    /// <paramref name="hook"/> applied during the forward pass (the vectors are averaged after the hook).
    /// </summary>
    /// <param name="model">the model</param>
    /// <param name="sequences">token ids <c>[N, T]</c> (int64)</param>
    /// <param name="hook">hidden-state edit, e.g. <see cref="RemovePositional"/>; null = none</param>
    /// <param name="batchSize">sequences per forward pass</param>
    public static PositionalDecomposition Collect(CausalLM model, Tensor sequences, Func<int, Tensor, Tensor>? hook, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(sequences, 2, nameof(sequences), "[N, T]");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        using var extractor = PositionalVectorExtractor.For(model, (int)sequences.shape[1]);
        var device = model.parameters().First().device;
        using var _ = no_grad();
        for (long start = 0; start < sequences.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var tokens = sequences[(int)start..(int)Math.Min(start + batchSize, sequences.shape[0])].to(device);
            model.Forward(tokens, (l, h) =>
            {
                var edited = hook is null ? h : hook(l, h);
                extractor.Add(l, edited);
                return edited;
            });
        }
        return extractor.Result();
    }

    /// <summary>
    /// A hook that subtracts the positional vector p[<paramref name="atLayer"/>, t] from the hidden state of the single
    /// token at <paramref name="position"/> after layer <paramref name="atLayer"/> (0 = embeddings); later layers see the edit.
    /// </summary>
    /// <param name="decomposition">the positional vectors to remove</param>
    /// <param name="position">the token whose positional vector is removed</param>
    /// <param name="atLayer">the layer after which it is removed</param>
    public static Func<int, Tensor, Tensor> RemovePositional(PositionalDecomposition decomposition, int position, int atLayer = 1)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        decomposition.CheckLayer(atLayer, nameof(atLayer));
        if (position < 0 || position >= decomposition.Length)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"position must be in 0…{decomposition.Length - 1}.");
        return (layer, h) =>
        {
            if (layer != atLayer) return h;
            var p = decomposition.P[layer, position].to(h.dtype).to(h.device);                       // [D]
            var mask = (arange(h.shape[1], device: h.device) == position).to(h.dtype).unsqueeze(1);   // [T, 1]
            return h - mask * p;
        };
    }

    /// <summary>
    /// The anchor test: removes the positional vector of the token at <paramref name="position"/> after layer
    /// <paramref name="atLayer"/> and re-estimates the positional vectors of every later layer. Per layer l &gt; atLayer,
    /// over positions t ≥ <paramref name="from"/>: the ratio of mean basis norms ‖m′[l, t]‖ / ‖m[l, t]‖ (ablated over
    /// original) and the mean cosine cos(m′[l, t], m[l, t]). Columns: layer, norm_ratio, cos_to_original.
    /// </summary>
    /// <param name="model">the model</param>
    /// <param name="sequences">token ids <c>[N, T]</c> (int64), T = the decomposition's length</param>
    /// <param name="decomposition">positional vectors of <paramref name="model"/> on these sequences</param>
    /// <param name="position">the token whose positional vector is removed (0 = the first token)</param>
    /// <param name="from">first position included in the averages</param>
    /// <param name="atLayer">the layer after which the vector is removed</param>
    /// <param name="batchSize">sequences per forward pass</param>
    public static DataFrame AnchorAblation(CausalLM model, Tensor sequences, PositionalDecomposition decomposition, int position, int from,
        int atLayer = 1, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        Shapes.Exactly(sequences, nameof(sequences), "[N, T]", -1, decomposition.Length);
        if (from < 0 || from >= decomposition.Length) throw new ArgumentOutOfRangeException(nameof(from), from, $"from must be in 0…{decomposition.Length - 1}.");
        using var ablated = Collect(model, sequences, RemovePositional(decomposition, position, atLayer), batchSize);
        var layerCol = new Int32DataFrameColumn("layer");
        var ratioCol = new DoubleDataFrameColumn("norm_ratio");
        var cosCol = new DoubleDataFrameColumn("cos_to_original");
        for (int l = atLayer + 1; l < decomposition.Layers; l++)
        {
            using var scope = NewDisposeScope();
            var before = decomposition.Basis[l, from..].to(ScalarType.Float64).cpu();
            var after = ablated.Basis[l, from..].to(ScalarType.Float64).cpu();
            var nb = before.norm(dim: 1); var na = after.norm(dim: 1);
            layerCol.Append(l);
            ratioCol.Append(na.mean().item<double>() / Math.Max(nb.mean().item<double>(), 1e-300));
            cosCol.Append(((before * after).sum(dim: 1) / (nb * na).clamp_min(1e-300)).mean().item<double>());
        }
        return new DataFrame(layerCol, ratioCol, cosCol);
    }

    /// <summary>
    /// Drift beyond the window against a noise floor. The sequences <c>[N, T]</c> (T &gt; C, N ≥ 4) are split into two
    /// disjoint halves A and B, positional vectors are estimated from each and centred on their own in-window mean. For
    /// every position t: the largest cosine of A's vector at t to any of B's in-window vectors (s &lt; C). For in-window t
    /// this includes B's estimate of the same position, so its mean is the level a copy of an in-window vector reaches
    /// under this estimation noise; the floor is the same statistic after randomly permuting the coordinates of A's vector.
    /// </summary>
    /// <param name="model">the model</param>
    /// <param name="sequences">token ids <c>[N, T]</c> (int64), T &gt; <paramref name="window"/></param>
    /// <param name="window">the training length C</param>
    /// <param name="layer">hidden-state layer (0 = embeddings)</param>
    /// <param name="permutationSeed">seed of the coordinate permutations of the floor</param>
    /// <param name="batchSize">sequences per forward pass</param>
    public static DriftFloorResult DriftWithFloor(CausalLM model, Tensor sequences, int window, int layer, int permutationSeed = 0, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(sequences, 2, nameof(sequences), "[N, T]");
        int n = (int)sequences.shape[0], t = (int)sequences.shape[1];
        if (n < 4) throw new ArgumentException($"sequences must hold ≥ 4 sequences (two halves), got {Shapes.Describe(sequences)}.", nameof(sequences));
        if (window < 2 || window >= t) throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be in 2…T−1 = {t - 1}.");
        using var a = Collect(model, sequences[..(n / 2)], null, batchSize);
        using var b = Collect(model, sequences[(n / 2)..], null, batchSize);
        a.CheckLayer(layer, nameof(layer));
        using var scope = NewDisposeScope();
        var pa = a.P[layer].to(ScalarType.Float64).cpu();
        var pb = b.P[layer].to(ScalarType.Float64).cpu();
        pa = pa - pa[..window].mean(new long[] { 0 }, keepdim: true);
        pb = pb - pb[..window].mean(new long[] { 0 }, keepdim: true);
        var unitB = pb[..window] / pb[..window].norm(1, keepdim: true).clamp_min(1e-300);            // [C, D]
        Tensor Best(Tensor x) => (x / x.norm(1, keepdim: true).clamp_min(1e-300)).matmul(unitB.T).max(1).values;
        var generator = new Generator((ulong)permutationSeed);
        var permuted = stack(Enumerable.Range(0, t).Select(i => pa[i].index_select(0, randperm(pa.shape[1], generator: generator))).ToArray());
        return new DriftFloorResult(Best(pa).data<double>().ToArray(), Best(permuted).data<double>().ToArray(), window);
    }

    /// <summary>
    /// Which in-window position a position t resembles. Vectors are centred on the mean of <paramref name="reference"/>'s
    /// first C = <paramref name="window"/> positions; for every position t of <paramref name="probe"/>: the cosine to the
    /// reference's in-window vector at ⌊t/r⌋ (clamped to C−1), the nearest in-window position by cosine and that cosine.
    /// Columns: position, cos_at_t_over_r, nearest_position, max_cos.
    /// </summary>
    /// <param name="reference">positional vectors whose first C positions are the in-window set (e.g. the unmodified model's long vectors)</param>
    /// <param name="probe">positional vectors to match (e.g. measured with an attention extension applied)</param>
    /// <param name="window">the training length C</param>
    /// <param name="layer">hidden-state layer (0 = embeddings)</param>
    /// <param name="ratio">r of the mapping t → t/r</param>
    public static DataFrame ScaledMatch(PositionalDecomposition reference, PositionalDecomposition probe, int window, int layer, double ratio)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(probe);
        reference.CheckLayer(layer, nameof(layer));
        probe.CheckLayer(layer, nameof(layer));
        if (window < 1 || window > reference.Length) throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be in 1…{reference.Length}.");
        if (!(ratio > 0)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must be > 0.");
        using var scope = NewDisposeScope();
        var r = reference.P[layer, ..window].to(ScalarType.Float64).cpu();
        var centre = r.mean(new long[] { 0 }, keepdim: true);
        r = r - centre;
        var x = probe.P[layer].to(ScalarType.Float64).cpu() - centre;
        var cos = CosineRows(x, r);                                                                    // [T, C]
        var (best, arg) = cos.max(1);
        var c = cos.data<double>().ToArray(); var be = best.data<double>().ToArray(); var ar = arg.data<long>().ToArray();
        var posCol = new Int32DataFrameColumn("position");
        var scaledCol = new DoubleDataFrameColumn("cos_at_t_over_r");
        var nearCol = new Int32DataFrameColumn("nearest_position");
        var maxCol = new DoubleDataFrameColumn("max_cos");
        for (int t = 0; t < probe.Length; t++)
        {
            int s = Math.Min((int)Math.Floor(t / ratio), window - 1);
            posCol.Append(t); scaledCol.Append(c[t * window + s]); nearCol.Append((int)ar[t]); maxCol.Append(be[t]);
        }
        return new DataFrame(posCol, scaledCol, nearCol, maxCol);
    }

    static Tensor CosineRows(Tensor x, Tensor y) =>
        (x / x.norm(1, keepdim: true).clamp_min(1e-300)).matmul((y / y.norm(1, keepdim: true).clamp_min(1e-300)).T);
}
