using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Fast forms of forgetting attention O = softmax(scale·QKᵀ + D)·V (same convention as
/// <see cref="ForgettingAttentionNaive"/>: bias added unscaled, scale = 1/√d by default), all differentiable in
/// q, k, v and log f through ordinary autograd:
/// <list type="bullet">
/// <item><see cref="Sdpa"/>: libtorch's fused scaled_dot_product_attention with D as an additive float mask
/// <c>[B, H, T, T]</c> (memory grows as T²; fastest for moderate T).</item>
/// <item><see cref="Chunked"/>: query/key chunks with online-softmax statistics; never builds a T×T tensor in the
/// forward pass (peak forward memory O(T·chunk)). Under autograd the per-block probabilities are saved for the
/// backward pass, so training memory is still O(T²) in saved activations, but without one T×T allocation.</item>
/// <item><see cref="Forward"/>: picks SDPA up to <see cref="SdpaMaxLength"/>, the chunked form beyond.</item>
/// </list>
/// </summary>
public static class ForgettingAttentionFast
{
    /// <summary>Longest T for which <see cref="Forward"/> uses <see cref="Sdpa"/>; beyond it <see cref="Chunked"/>.</summary>
    public static int SdpaMaxLength { get; set; } = 2048;

    /// <summary>Chunk size <see cref="Forward"/> passes to <see cref="Chunked"/>.</summary>
    public static int DefaultChunkSize { get; set; } = 512;

    /// <summary>SDPA for T ≤ <see cref="SdpaMaxLength"/>, otherwise the chunked form with <see cref="DefaultChunkSize"/>.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logForget">log forget gates (finite, ≤ 0) <c>[B, H, T]</c>, float32 (or float64)</param>
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale = null)
    {
        Inputs.CheckQueryKey(q, k);
        return q.shape[2] <= SdpaMaxLength
            ? Sdpa(q, k, v, logForget, scale)
            : Chunked(q, k, v, logForget, DefaultChunkSize, scale);
    }

    /// <summary>
    /// Fused SDPA with the decay bias as additive float mask. The mask is cast to q's dtype (libtorch requires it), so
    /// for bf16 inputs the bias carries bf16 rounding (≈ 0.4 % of |D|); use <see cref="Chunked"/> to keep it in float32.
    /// </summary>
    /// <inheritdoc cref="Forward"/>
    public static Tensor Sdpa(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale = null)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        using var scope = NewDisposeScope();
        // SDPA has no scale argument and always uses 1/√D: fold a different scale into q.
        if (scale is double s) q = q * (s * Math.Sqrt(q.shape[^1]));
        var mask = ForgetGate.DecayBias(logForget).to(q.dtype);                      // [B, H, T, T]
        return F.scaled_dot_product_attention(q, k, v.to(q.dtype), attn_mask: mask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Chunked forgetting attention with online softmax (running max, sum and accumulator per query row), float32
    /// statistics (float64 for float64 inputs). For query chunk m and key chunk n ≤ m the bias is assembled from
    /// chunk-local cumulative sums L (each starting at its chunk): c_i − c_j = L_i − L_j + Σ_{n ≤ p &lt; m} S_p with
    /// S_p the total log decay of chunk p, so nearby tokens never subtract two large global sums. T need not be a
    /// multiple of <paramref name="chunkSize"/>.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logForget">log forget gates (finite, ≤ 0) <c>[B, H, T]</c></param>
    /// <param name="chunkSize">rows/columns per block (≥ 1)</param>
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Chunked(Tensor q, Tensor k, Tensor v, Tensor logForget, int chunkSize = 512, double? scale = null)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
        using var scope = NewDisposeScope();
        long t = q.shape[2];
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[^1]);
        var stats = ForgetGate.GateDType(q.dtype);
        var logf = logForget.to(stats);
        int chunks = (int)((t + chunkSize - 1) / chunkSize);
        var starts = Enumerable.Range(0, chunks).Select(c => (long)c * chunkSize).ToArray();
        long End(int c) => Math.Min(t, starts[c] + chunkSize);

        var local = new Tensor[chunks];                                              // [B, H, C]: L within each chunk
        var totals = new Tensor[chunks];                                             // [B, H]: S of each chunk
        for (int c = 0; c < chunks; c++)
        {
            local[c] = logf[.., .., (int)starts[c]..(int)End(c)].cumsum(-1, stats);
            totals[c] = local[c][.., .., -1];
        }

        var outputs = new Tensor[chunks];
        for (int m = 0; m < chunks; m++)
        {
            using var chunkScope = NewDisposeScope();
            var qm = q[.., .., (int)starts[m]..(int)End(m)];                         // [B, H, Cq, D]
            Tensor? runMax = null, runSum = null, acc = null;                         // [B, H, Cq, 1], [.., 1], [.., Dv]
            var gap = zeros_like(totals[m]);                                          // Σ_{n ≤ p < m} S_p, [B, H]
            for (int n = m; n >= 0; n--)                                              // diagonal first: every row gets a finite max at once
            {
                if (n < m) gap = gap + totals[n];
                var kn = k[.., .., (int)starts[n]..(int)End(n)];
                var vn = v[.., .., (int)starts[n]..(int)End(n)];
                var bias = local[m].unsqueeze(-1) - local[n].unsqueeze(-2) + gap.unsqueeze(-1).unsqueeze(-1);
                var logits = qm.matmul(kn.transpose(-2, -1)).to(stats) * s + bias;    // [B, H, Cq, Ck]
                if (n == m)
                {
                    long size = End(m) - starts[m];
                    logits = logits.masked_fill(ones(size, size, dtype: ScalarType.Bool, device: q.device).triu(1), double.NegativeInfinity);
                }
                // The max only stabilises exp; the result does not depend on it, so it needs no gradient.
                var blockMax = logits.amax(new long[] { -1 }, keepdim: true).detach();
                var newMax = runMax is null ? blockMax : maximum(runMax, blockMax);
                var p = (logits - newMax).exp();
                var pv = p.to(vn.dtype).matmul(vn).to(stats);
                if (runMax is null) { runSum = p.sum(-1, keepdim: true); acc = pv; }
                else
                {
                    var correction = (runMax - newMax).exp();
                    runSum = runSum! * correction + p.sum(-1, keepdim: true);
                    acc = acc! * correction + pv;
                }
                runMax = newMax;
            }
            outputs[m] = (acc! / runSum!).MoveToOuterDisposeScope();
        }
        return cat(outputs, 2).to(q.dtype).MoveToOuterDisposeScope();
    }
}
