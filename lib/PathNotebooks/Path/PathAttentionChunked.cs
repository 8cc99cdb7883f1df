using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.PaTH;

/// <summary>
/// PaTH attention with batched matmuls only (ALGORITHMS.md §2.3–2.5): per chunk of C positions a UT transform gives
/// the intra-chunk logits and boundary-adjusted queries/keys; a loop over the chunk distance δ = 1 … N−1 handles all
/// (query chunk c, key chunk c − δ) pairs at once, moving every query block across one more chunk per step
/// (<c>Q̃ ← Q̃ − (Q̃ Wᵀ) U</c>). Exact (no approximation), autograd-friendly (tensors are rebuilt with <c>cat</c>, never
/// written in place), any T (right-padded with β = 0 and zero q/k/v/w), any B/H.
/// <para>Dtypes: float64 inputs are computed in float64; float32 and bfloat16 inputs are computed in float32 (the UT
/// transform, the Householder pieces, the logits and the softmax statistics) and the output is cast back to q's dtype.</para>
/// <para>PaTH-FoX: optional <c>logForget</c> = per-token <c>log f_t</c> <c>[B, H, T]</c>; the softmax argument is
/// <c>scale · (logit(i, j) + c_i − c_j)</c> with <c>c = cumsum(log f)</c> (scale applied to the sum, FLA's convention).</para>
/// </summary>
public static class PathAttentionChunked
{
    /// <summary>The usual chunk size (FLA's sub-chunk on Hopper).</summary>
    public const int DefaultChunkSize = 64;

    /// <summary>
    /// PaTH (or PaTH-FoX) attention with online softmax (FlashAttention statistics per query chunk), so no
    /// <c>[B, H, T, T]</c> tensor is ever built. Without gradients memory is O(B·H·T·(D + Dv)) plus one
    /// <c>[B, H, N, C, C]</c> block; under autograd the per-step probability blocks are kept for the backward
    /// (≈ half of a causal <c>[B, H, T, T]</c> in total), still less than <see cref="ForwardMaterialized"/>.
    /// </summary>
    /// <param name="q"><c>[B, H, T, D]</c></param>
    /// <param name="k"><c>[B, H, T, D]</c></param>
    /// <param name="v"><c>[B, H, T, Dv]</c></param>
    /// <param name="w">unit vectors <c>[B, H, T, D]</c></param>
    /// <param name="beta"><c>[B, H, T]</c>, in (0, 2)</param>
    /// <param name="logForget">optional <c>log f_t</c> <c>[B, H, T]</c> (PaTH-FoX)</param>
    /// <param name="chunkSize">C; any T works (the last chunk is padded)</param>
    /// <param name="scale">softmax scale (default <c>1/√D</c>)</param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        CheckChunk(chunkSize);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, v, w, beta, logForget, chunkSize);
        double sc = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        int n = p.Chunks;

        var s = sc * p.IntraLogits;                                                   // [B, H, N, C, C]
        if (p.Cumulative is not null) s = s + sc * (p.Cumulative.unsqueeze(-1) - p.Cumulative.unsqueeze(-2));
        s = s.masked_fill(p.AboveDiagonal, double.NegativeInfinity);
        var m = s.detach().amax(new long[] { -1 });                                   // running max [B, H, N, C] (a stabiliser: no gradient needed)
        var e = (s - m.unsqueeze(-1)).exp();
        var l = e.sum(-1);                                                             // running sum [B, H, N, C]
        var acc = e.matmul(p.V);                                                       // accumulator [B, H, N, C, Dv]
        var qCur = p.QTilde;                                                           // queries moved to the start of their chunk

        for (int delta = 1; delta < n; delta++)
        {
            var qa = qCur[.., .., delta..];                                            // query chunks δ … N−1
            var keys = p.KTilde[.., .., ..(n - delta)];                                // key chunks 0 … N−1−δ
            var sd = sc * qa.matmul(keys.transpose(-2, -1));                           // [B, H, N−δ, C, C]
            if (p.Cumulative is not null)
                sd = sd + sc * (p.Cumulative[.., .., delta..].unsqueeze(-1) - p.Cumulative[.., .., ..(n - delta)].unsqueeze(-2));
            var mOld = m[.., .., delta..];
            var mNew = maximum(mOld, sd.detach().amax(new long[] { -1 }));
            var rescale = (mOld - mNew).exp();
            var ed = (sd - mNew.unsqueeze(-1)).exp();
            var lNew = l[.., .., delta..] * rescale + ed.sum(-1);
            var accNew = acc[.., .., delta..] * rescale.unsqueeze(-1) + ed.matmul(p.V[.., .., ..(n - delta)]);
            m = cat(new[] { m[.., .., ..delta], mNew }, 2);
            l = cat(new[] { l[.., .., ..delta], lNew }, 2);
            acc = cat(new[] { acc[.., .., ..delta], accNew }, 2);
            if (delta < n - 1)
            {
                var crossed = qa - qa.matmul(p.W[.., .., ..(n - delta)].transpose(-2, -1)).matmul(p.U[.., .., ..(n - delta)]);
                qCur = cat(new[] { qCur[.., .., ..delta], crossed }, 2);
            }
        }
        var o = acc / l.unsqueeze(-1);                                                 // [B, H, N, C, Dv]
        return p.Unchunk(o).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Same result as <see cref="Forward"/>, by materialising the logits <c>[B, H, T, T]</c> (<see cref="Logits"/>) and
    /// one softmax. Simpler, O(B·H·T²) memory; the layer uses it when attention probabilities are captured.
    /// </summary>
    public static Tensor ForwardMaterialized(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        using var scope = NewDisposeScope();
        var probs = Probabilities(q, k, w, beta, logForget, chunkSize, scale);
        return probs.matmul(v.to(probs.dtype)).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Attention probabilities <c>[B, H, T, T]</c> (float32, or float64 for float64 inputs; zero above the diagonal).</summary>
    public static Tensor Probabilities(Tensor q, Tensor k, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null)
    {
        PathChecks.Inputs(q, k, k, w, beta, logForget);
        using var scope = NewDisposeScope();
        var logits = Logits(q, k, w, beta, chunkSize);
        if (logForget is not null)
        {
            var c = logForget.to(logits.dtype).cumsum(-1);
            logits = logits + (c.unsqueeze(-1) - c.unsqueeze(-2));
        }
        double sc = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        return (sc * logits).softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Unscaled PaTH logits <c>q_iᵀ H_i ⋯ H_{j+1} k_j</c> <c>[B, H, T, T]</c>, −∞ above the diagonal, built blockwise
    /// (intra-chunk blocks from the masked UT transform, cross-chunk blocks from the δ-loop). O(B·H·T²) memory.
    /// </summary>
    public static Tensor Logits(Tensor q, Tensor k, Tensor w, Tensor beta, int chunkSize = DefaultChunkSize)
    {
        PathChecks.Inputs(q, k, k, w, beta, null);
        CheckChunk(chunkSize);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, k, w, beta, null, chunkSize);
        int n = p.Chunks, c = p.ChunkSize;
        var intra = p.IntraLogits.masked_fill(p.AboveDiagonal, double.NegativeInfinity);
        // blocks[δ] : [B, H, N−δ, C, C] for query chunks δ … N−1 against key chunks 0 … N−1−δ
        var blocks = new Tensor[n];
        blocks[0] = intra;
        var qCur = p.QTilde;
        for (int delta = 1; delta < n; delta++)
        {
            var qa = qCur[.., .., delta..];
            blocks[delta] = qa.matmul(p.KTilde[.., .., ..(n - delta)].transpose(-2, -1));
            if (delta < n - 1)
                qCur = cat(new[] { qCur[.., .., ..delta],
                    qa - qa.matmul(p.W[.., .., ..(n - delta)].transpose(-2, -1)).matmul(p.U[.., .., ..(n - delta)]) }, 2);
        }
        var future = full(new long[] { p.BatchSize, p.Heads, c, c }, double.NegativeInfinity, dtype: intra.dtype, device: intra.device);
        var rows = new Tensor[n];
        for (int qc = 0; qc < n; qc++)
        {
            var row = new Tensor[n];
            for (int kc = 0; kc < n; kc++)
                row[kc] = kc > qc ? future : blocks[qc - kc][.., .., kc];             // query chunk qc = kc + δ
            rows[qc] = cat(row, -1);                                                   // [B, H, C, N·C]
        }
        long t = q.shape[2];
        return cat(rows, 2)[.., .., ..(int)t, ..(int)t].MoveToOuterDisposeScope();
    }

    static void CheckChunk(int chunkSize)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
    }

    /// <summary>Per-chunk quantities of §2.3, all in the accumulation dtype.</summary>
    internal sealed record Prepared(
        int Chunks, int ChunkSize, long BatchSize, long Heads, long Length,
        Tensor QTilde,          // [B, H, N, C, D]  q̃_iᵀ = q_iᵀ H_i ⋯ H_first
        Tensor KTilde,          // [B, H, N, C, D]  k̃_j = H_last ⋯ H_{j+1} k_j
        Tensor W,               // [B, H, N, C, D]
        Tensor U,               // [B, H, N, C, D]  T diag(β) W: chunk product P = I − Wᵀ U
        Tensor V,               // [B, H, N, C, Dv]
        Tensor IntraLogits,     // [B, H, N, C, C]  exact logits for j ≤ i inside a chunk (garbage above the diagonal)
        Tensor? Cumulative,     // [B, H, N, C]     c = cumsum(log f), or null
        Tensor AboveDiagonal)   // [C, C] bool
    {
        /// <summary><c>[B, H, N, C, X]</c> → <c>[B, H, T, X]</c> (drops the padding).</summary>
        public Tensor Unchunk(Tensor x) => x.reshape(BatchSize, Heads, (long)Chunks * ChunkSize, x.shape[^1])[.., .., ..(int)Length];
    }

    internal static Prepared Prepare(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget, int chunkSize)
    {
        var dtype = Householder.AccumulationType(q.dtype);
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3], dv = v.shape[3];
        int c = (int)Math.Min(chunkSize, t);
        int n = (int)((t + c - 1) / c);
        long pad = (long)n * c - t;
        Tensor Chunk(Tensor x)                                                         // [B, H, T, X] → [B, H, N, C, X], zero-padded
        {
            x = x.to(dtype);
            if (pad > 0) x = F.pad(x, new long[] { 0, 0, 0, pad });
            return x.reshape(b, h, n, c, x.shape[^1]);
        }
        Tensor ChunkScalar(Tensor x)                                                   // [B, H, T] → [B, H, N, C]
        {
            x = x.to(dtype);
            if (pad > 0) x = F.pad(x, new long[] { 0, pad });
            return x.reshape(b, h, n, c);
        }
        Tensor qc = Chunk(q), kc = Chunk(k), wc = Chunk(w), vc = Chunk(v), bc = ChunkScalar(beta);
        var ut = Householder.UT(wc, bc);                                               // T [.., C, C], U [.., C, D]
        var betaW = bc.unsqueeze(-1) * wc;
        var qw = qc.matmul(wc.transpose(-2, -1)).tril();                               // query i sees transforms r ≤ i
        var wk = betaW.matmul(kc.transpose(-2, -1)).tril(-1);                          // key j is hit by transforms s > j
        var twk = ut.T.matmul(wk);                                                     // [.., C(r), C(j)]
        var intra = qc.matmul(kc.transpose(-2, -1)) - qw.matmul(twk);
        var qTilde = qc - qw.matmul(ut.U);
        var kTilde = kc - twk.transpose(-2, -1).matmul(wc);
        Tensor? cum = logForget is null ? null : ChunkScalar(logForget.to(dtype).cumsum(-1));
        var above = ones(c, c, dtype: ScalarType.Bool, device: q.device).triu(1);
        return new Prepared(n, c, b, h, t, qTilde, kTilde, wc, ut.U, vc, intra, cum, above);
    }
}
