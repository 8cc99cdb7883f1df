using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>
/// Incremental (decoding) form of PaTH / PaTH-FoX attention (see docs/path.md, "Decode cache").
/// The cache holds every key already
/// multiplied by all later transforms, <c>k̂_j = H_t ⋯ H_{j+1} k_j</c> after step t. A new token's <c>H_t</c> updates
/// all cached keys by a rank-1 correction <c>k̂_j ← k̂_j − β_t (w_tᵀ k̂_j) w_t</c> (O(t·D)), its key is appended
/// unchanged, and the rest is ordinary attention decoding: <c>softmax(scale · (q_tᵀ k̂_j + c_t − c_j)) · V</c>.
/// Stored in float32 (float64 for float64 inputs). Step-by-step outputs equal the full forward.
/// </summary>
public sealed class PathDecodeCache : IDisposable
{
    Tensor? keys;        // [B, H, n, D]
    Tensor? values;      // [B, H, n, Dv]
    Tensor? cumulative;  // [B, H, n]  c_j = Σ_{l ≤ j} log f_l (zeros without a forget gate)
    Tensor? total;       // [B, H]     c of the latest token

    /// <summary>Softmax scale (null = <c>1/√D</c>).</summary>
    public double? Scale { get; init; }

    /// <summary>Number of cached tokens.</summary>
    public int Length => keys is null ? 0 : (int)keys.shape[2];

    /// <summary>The transformed keys <c>[B, H, n, D]</c> (<c>H_{n−1} ⋯ H_{j+1} k_j</c>), or null when empty.</summary>
    public Tensor? Keys => keys;

    /// <summary>The cached values <c>[B, H, n, Dv]</c>, or null when empty.</summary>
    public Tensor? Values => values;

    /// <summary>Cumulative log forget gates <c>c_j</c> of the cached tokens <c>[B, H, n]</c> (zeros without a gate), or null when empty.</summary>
    public Tensor? Cumulative => cumulative;

    /// <summary><c>c</c> of the latest token <c>[B, H]</c>, or null when empty.</summary>
    public Tensor? Total => total;

    /// <summary>
    /// Consumes one token and returns its attention output.
    /// </summary>
    /// <param name="q"><c>[B, H, D]</c></param>
    /// <param name="k"><c>[B, H, D]</c></param>
    /// <param name="v"><c>[B, H, Dv]</c></param>
    /// <param name="w">unit vector <c>[B, H, D]</c> of this token's transform</param>
    /// <param name="beta"><c>[B, H]</c></param>
    /// <param name="logForget">optional <c>log f_t</c> <c>[B, H]</c> (PaTH-FoX)</param>
    /// <returns><c>[B, H, Dv]</c> in q's dtype</returns>
    public Tensor Step(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null)
    {
        Shapes.Rank(q, 3, nameof(q), "[B, H, D]");
        PathChecks.Inputs(q.unsqueeze(2), k.unsqueeze(2), v.unsqueeze(2), w.unsqueeze(2), beta.unsqueeze(2), logForget?.unsqueeze(2));
        PathChecks.Domain(q, k, v, w, beta, logForget);
        if (keys is not null && (keys.shape[0] != q.shape[0] || keys.shape[1] != q.shape[1] || keys.shape[3] != q.shape[2]))
            throw new ArgumentException($"q must have shape [B, H, D] = [{keys.shape[0]}, {keys.shape[1]}, {keys.shape[3]}] like the cache, got {Shapes.Describe(q)}.", nameof(q));
        var dtype = Householder.AccumulationType(q.dtype);
        using var scope = NewDisposeScope();
        var newKeys = keys is null ? k.to(dtype).unsqueeze(2)
            : cat(new[] { Householder.Apply(keys, w.to(dtype), beta.to(dtype)), k.to(dtype).unsqueeze(2) }, 2);
        var newValues = values is null ? v.to(dtype).unsqueeze(2) : cat(new[] { values, v.to(dtype).unsqueeze(2) }, 2);
        var lf = logForget?.to(dtype) ?? zeros(q.shape[0], q.shape[1], dtype: dtype, device: q.device);
        var newTotal = total is null ? lf : total + lf;
        var newCumulative = cumulative is null ? newTotal.unsqueeze(2) : cat(new[] { cumulative, newTotal.unsqueeze(2) }, 2);

        double sc = Scale ?? 1.0 / Math.Sqrt(q.shape[2]);
        var logits = newKeys.matmul(q.to(dtype).unsqueeze(-1)).squeeze(-1);          // [B, H, n]
        var p = (sc * (logits + newTotal.unsqueeze(-1) - newCumulative)).softmax(-1);
        var o = p.unsqueeze(2).matmul(newValues).squeeze(2).to(q.dtype);              // [B, H, Dv]
        Replace(newKeys, newValues, newCumulative, newTotal);
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A cache after a whole prefix: keys transformed by all later transforms (chunk products applied right to left,
    /// the within-chunk part by the masked UT transform), values and cumulative forget gates stored.
    /// Continue with <see cref="Step"/>; the prefix's own outputs come from <see cref="PathAttentionChunked.Forward"/>.
    /// </summary>
    /// <param name="k"><c>[B, H, T, D]</c></param>
    /// <param name="v"><c>[B, H, T, Dv]</c></param>
    /// <param name="w"><c>[B, H, T, D]</c></param>
    /// <param name="beta"><c>[B, H, T]</c></param>
    /// <param name="logForget">optional <c>[B, H, T]</c></param>
    /// <param name="chunkSize">chunk size of the key transformation (any value gives the same cache)</param>
    /// <param name="scale">softmax scale for the later steps (null = <c>1/√D</c>)</param>
    public static PathDecodeCache Prefill(Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = PathAttentionChunked.DefaultChunkSize, double? scale = null)
    {
        PathChecks.Inputs(k, k, v, w, beta, logForget);
        PathChecks.Domain(k, k, v, w, beta, logForget);
        var dtype = Householder.AccumulationType(k.dtype);
        using var scope = NewDisposeScope();
        var transformed = TransformKeys(k, w, beta, chunkSize);
        var lf = logForget?.to(dtype) ?? zeros(beta.shape, dtype: dtype, device: k.device);
        var cum = lf.cumsum(-1);
        var cache = new PathDecodeCache { Scale = scale };
        cache.Replace(transformed, v.to(dtype), cum, cum[.., .., -1]);
        return cache;
    }

    /// <summary>
    /// <c>H_T ⋯ H_{j+1} k_j</c> for every j: each key moved to the end of the sequence. <c>[B, H, T, D]</c>, accumulation dtype.
    /// </summary>
    public static Tensor TransformKeys(Tensor k, Tensor w, Tensor beta, int chunkSize = PathAttentionChunked.DefaultChunkSize)
    {
        PathChecks.Inputs(k, k, k, w, beta, null);
        PathChecks.Domain(k, k, k, w, beta, null);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
        using var scope = NewDisposeScope();
        var p = PathAttentionChunked.Prepare(k, k, k, w, beta, null, chunkSize);
        int n = p.Chunks;
        var kCur = p.KTilde;                                                           // moved to the end of its own chunk
        for (int delta = 1; delta < n; delta++)
        {
            // key chunks 0 … N−1−δ cross chunk (their index + δ): row form k ← k − (k Uᵀ) W of P = I − Wᵀ U
            var ka = kCur[.., .., ..(n - delta)];
            var crossed = ka - ka.matmul(p.U[.., .., delta..].transpose(-2, -1)).matmul(p.W[.., .., delta..]);
            kCur = cat(new[] { crossed, kCur[.., .., (n - delta)..] }, 2);
        }
        return p.Unchunk(kCur).MoveToOuterDisposeScope();
    }

    /// <summary>Must be called inside a dispose scope (the new handles are created there, then detached from it).</summary>
    void Replace(Tensor newKeys, Tensor newValues, Tensor newCumulative, Tensor newTotal)
    {
        Dispose();
        // detach(): fresh handles without autograd history, never the caller's own tensor objects
        keys = newKeys.detach().DetachFromDisposeScope();
        values = newValues.detach().DetachFromDisposeScope();
        cumulative = newCumulative.detach().DetachFromDisposeScope();
        total = newTotal.detach().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        keys?.Dispose(); values?.Dispose(); cumulative?.Dispose(); total?.Dispose();
        keys = values = cumulative = total = null;
    }
}
