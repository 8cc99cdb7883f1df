using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>
/// PaTH attention, the O(T²·d) float64 reference (the test oracle).
/// <para><c>logit(i, j) = q_iᵀ (H_i H_{i−1} ⋯ H_{j+1}) k_j</c> for <c>j ≤ i</c> (the empty product is I when j = i),
/// <c>H_t = I − β_t w_t w_tᵀ</c>; <c>o_i = Σ_{j≤i} softmax_j(scale · logit(i, j)) v_j</c>, <c>scale = 1/√D</c>.</para>
/// <para>PaTH-FoX (optional <c>logForget</c> = per-token <c>log f_t</c>): with <c>c = cumsum(log f)</c> the softmax
/// argument is <c>scale · (logit(i, j) + c_i − c_j)</c> — the scale multiplies the sum, FLA's PaTH-FoX convention
/// (plain FoX adds the bias after scaling; do not mix the two when comparing).</para>
/// </summary>
public static class PathAttentionNaive
{
    /// <summary>
    /// PaTH logits <c>q_iᵀ H_i ⋯ H_{j+1} k_j</c> by the decode recurrence
    /// (docs/path.md, "Reference (decode recurrence)"): keep every key
    /// multiplied by all later transforms, at step i apply <c>H_i</c> to the cached keys, then append <c>k_i</c>.
    /// Entries above the diagonal are −∞. Float64, out-of-place (differentiable).
    /// </summary>
    /// <param name="q"><c>[B, H, T, D]</c></param>
    /// <param name="k"><c>[B, H, T, D]</c></param>
    /// <param name="w">unit vectors <c>[B, H, T, D]</c></param>
    /// <param name="beta"><c>[B, H, T]</c></param>
    /// <returns>unscaled logits <c>[B, H, T, T]</c> float64</returns>
    public static Tensor Logits(Tensor q, Tensor k, Tensor w, Tensor beta)
    {
        PathChecks.Inputs(q, k, k, w, beta, null);
        PathChecks.Domain(q, k, k, w, beta, null);
        using var scope = NewDisposeScope();
        var f64 = ScalarType.Float64;
        Tensor q64 = q.to(f64), k64 = k.to(f64), w64 = w.to(f64), b64 = beta.to(f64);
        long t = q.shape[2];
        var rows = new List<Tensor>();
        Tensor? cache = null;                                                           // [B, H, i, D]: H_{i−1}⋯H_{j+1} k_j
        for (int i = 0; i < t; i++)
        {
            if (cache is not null) cache = Householder.Apply(cache, w64[.., .., i], b64[.., .., i]);
            var ki = k64[.., .., i..(i + 1)];
            cache = cache is null ? ki : cat(new[] { cache, ki }, 2);                     // [B, H, i+1, D]
            var s = cache.matmul(q64[.., .., i].unsqueeze(-1)).squeeze(-1);              // [B, H, i+1]
            if (i + 1 < t) s = cat(new[] { s, full(s.shape[0], s.shape[1], t - i - 1, double.NegativeInfinity, dtype: f64, device: s.device) }, 2);
            rows.Add(s);
        }
        return stack(rows, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same logits by brute force with explicit <c>D×D</c> products (O(T²·D³)); for tiny T in tests only.
    /// </summary>
    public static Tensor LogitsByExplicitProducts(Tensor q, Tensor k, Tensor w, Tensor beta)
    {
        PathChecks.Inputs(q, k, k, w, beta, null);
        PathChecks.Domain(q, k, k, w, beta, null);
        using var scope = NewDisposeScope();
        var f64 = ScalarType.Float64;
        Tensor q64 = q.to(f64), k64 = k.to(f64), w64 = w.to(f64), b64 = beta.to(f64);
        long t = q.shape[2];
        var logits = full(q.shape[0], q.shape[1], t, t, double.NegativeInfinity, dtype: f64, device: q.device);
        for (int i = 0; i < t; i++)
            for (int j = 0; j <= i; j++)
            {
                var p = Householder.Product(w64, b64, j + 1, i);                          // [B, H, D, D]
                var kj = p.matmul(k64[.., .., j].unsqueeze(-1)).squeeze(-1);
                logits[.., .., i, j] = (q64[.., .., i] * kj).sum(-1);
            }
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>PaTH (or PaTH-FoX) attention output, float64.</summary>
    /// <param name="q"><c>[B, H, T, D]</c></param>
    /// <param name="k"><c>[B, H, T, D]</c></param>
    /// <param name="v"><c>[B, H, T, Dv]</c></param>
    /// <param name="w">unit vectors <c>[B, H, T, D]</c></param>
    /// <param name="beta"><c>[B, H, T]</c>, in (0, 2)</param>
    /// <param name="logForget">optional per-token <c>log f_t</c> <c>[B, H, T]</c> (PaTH-FoX)</param>
    /// <param name="scale">softmax scale (default <c>1/√D</c>)</param>
    /// <returns><c>[B, H, T, Dv]</c> float64</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null, double? scale = null)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        PathChecks.Domain(q, k, v, w, beta, logForget);
        using var scope = NewDisposeScope();
        var p = Probabilities(q, k, w, beta, logForget, scale);
        return p.matmul(v.to(ScalarType.Float64)).MoveToOuterDisposeScope();
    }

    /// <summary>Attention probabilities <c>[B, H, T, T]</c> float64 (zero above the diagonal).</summary>
    public static Tensor Probabilities(Tensor q, Tensor k, Tensor w, Tensor beta, Tensor? logForget = null, double? scale = null)
    {
        PathChecks.Inputs(q, k, k, w, beta, logForget);
        PathChecks.Domain(q, k, k, w, beta, logForget);
        using var scope = NewDisposeScope();
        var logits = Logits(q, k, w, beta);
        if (logForget is not null)
        {
            var c = logForget.to(ScalarType.Float64).cumsum(-1);                         // [B, H, T]
            logits = logits + (c.unsqueeze(-1) - c.unsqueeze(-2));                       // + c_i − c_j
        }
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        return (logits * s).softmax(-1).MoveToOuterDisposeScope();
    }
}
