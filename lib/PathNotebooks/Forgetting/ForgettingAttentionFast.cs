using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using PathNotebooks.Cuda;
using PathNotebooks.Runtime;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Fast forms of forgetting attention O = softmax(scale·QKᵀ + D)·V (same convention as
/// <see cref="ForgettingAttentionNaive"/>: bias added unscaled, scale = 1/√d by default), all differentiable in
/// q, k, v and log f (gradients pinned to the naive form in float64 by the tests):
/// <list type="bullet">
/// <item><see cref="Sdpa"/>: libtorch's fused scaled_dot_product_attention with D as an additive float mask
/// <c>[B, H, T, T]</c> (memory grows as T²; the faster form wherever it fits).</item>
/// <item><see cref="Chunked"/>: query/key chunks with online-softmax statistics and a hand-written backward that
/// recomputes each block (FlashAttention style): memory O(T·(D + chunk)) in both passes, never a T×T tensor.</item>
/// <item><see cref="Forward"/>: SDPA whenever its memory fits <see cref="FoxKernelOptions.SdpaMemoryBudgetBytes"/>
/// (where it fits it is the faster form, at every length measured), the chunked form otherwise; see
/// <see cref="Choose"/>.</item>
/// </list>
/// </summary>
public static class ForgettingAttentionFast
{
    /// <summary>Total key blocks skipped by <see cref="FoxKernelOptions.SkipMargin"/> since start (forward and backward passes).</summary>
    internal static long SkippedBlocks => Blocks.Skipped;

    /// <summary>
    /// The form <see cref="Choose"/> picks for these inputs: SDPA when its estimated memory fits the budget, otherwise
    /// the chunked form with <see cref="FoxKernelOptions.ChunkSize"/> and <see cref="FoxKernelOptions.SkipMargin"/>.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logForget">log forget gates (finite, ≤ 0) <c>[B, H, T]</c>, float32 (or float64)</param>
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <param name="options">which form runs and how; null = <see cref="FoxKernelOptions.Default"/></param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale = null, FoxKernelOptions? options = null)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        ForgetGate.CheckDomain(logForget, q, nameof(logForget));
        return ForwardUnchecked(q, k, v, logForget, scale, options);
    }

    /// <summary>
    /// <see cref="Forward"/> without the domain check's reduction and GPU wait: for the layer, whose gates are
    /// logsigmoid outputs (≤ 0) by construction. Shapes are still checked.
    /// </summary>
    internal static Tensor ForwardUnchecked(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale, FoxKernelOptions? options)
    {
        Inputs.CheckQueryKey(q, k);
        options ??= FoxKernelOptions.Default;
        bool requiresGrad = is_grad_enabled()
            && (q.requires_grad || k.requires_grad || v.requires_grad || logForget.requires_grad);
        if (options.Fused != FusedKernelUse.Off && v.shape[^1] == q.shape[^1] && FusedAttention.WhyNot(q) is null)
            return FusedAttention.Forward(q, k, v, logForget, window: 0, scale: scale, skipMargin: options.FusedSkipMargin);
        var choice = Choose(q.shape[0], q.shape[1], q.shape[2], q.shape[3], q.dtype, requiresGrad, q.device.type, options);
        return choice.Form == FoxKernelForm.Sdpa
            ? SdpaUnchecked(q, k, v, logForget, scale)
            : ChunkedUnchecked(q, k, v, logForget, options.ChunkSize, scale, options.SkipMargin);
    }

    /// <summary>
    /// Which form <see cref="Forward"/> runs for q <c>[B, H, T, D]</c>: SDPA when <see cref="SdpaBytes"/> ≤ the budget,
    /// otherwise the chunked form. The budget is <see cref="FoxKernelOptions.SdpaMemoryBudgetBytes"/>, or the automatic
    /// one: <see cref="FoxKernelOptions.CudaBudgetFraction"/> of the current CUDA device's total memory,
    /// <see cref="FoxKernelOptions.DefaultCpuBudgetBytes"/> on the CPU or when the device's memory cannot be read.
    /// </summary>
    /// <param name="b">batch size B</param>
    /// <param name="h">heads H</param>
    /// <param name="t">sequence length T</param>
    /// <param name="d">head dimension D (of q, k and v)</param>
    /// <param name="dtype">dtype of q (the mask is cast to it)</param>
    /// <param name="requiresGrad">whether gradients will flow (grad mode on and any input requiring them)</param>
    /// <param name="device">where the tensors live (sets the automatic budget and which SDPA kernel runs)</param>
    /// <param name="options">null = <see cref="FoxKernelOptions.Default"/></param>
    public static FoxKernelChoice Choose(long b, long h, long t, long d, ScalarType dtype, bool requiresGrad,
        DeviceType device, FoxKernelOptions? options = null)
    {
        options ??= FoxKernelOptions.Default;
        if (options.SdpaMemoryBudgetBytes is < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.SdpaMemoryBudgetBytes,
                "SdpaMemoryBudgetBytes must be ≥ 0 (or null for automatic).");
        long budget = options.SdpaMemoryBudgetBytes ?? AutomaticBudget(device);
        long bytes = SdpaBytes(b, h, t, d, dtype, requiresGrad, device);
        return new FoxKernelChoice(bytes <= budget ? FoxKernelForm.Sdpa : FoxKernelForm.Chunked, bytes, budget);
    }

    static long AutomaticBudget(DeviceType device) =>
        device == DeviceType.CUDA && CudaMemory.TotalBytes() is long total
            ? (long)(total * FoxKernelOptions.CudaBudgetFraction)
            : FoxKernelOptions.DefaultCpuBudgetBytes;

    /// <summary>
    /// Estimated peak memory of <see cref="Sdpa"/> beyond its inputs, in bytes, counted from what it allocates. With
    /// N = B·H·T² mask entries, L = B·H·T·D, g the bytes of the gate dtype (4; 8 for float64), e those of q's dtype
    /// and a = max(e, 4):
    /// <list type="number">
    /// <item>the bias c_i − c_j in the gate dtype and its masked copy (masked_fill is out of place): 2g·N;</item>
    /// <item>the mask cast to q's dtype, while the gate-dtype bias is still held: (g + e)·N, no copy when q is in
    /// the gate dtype; never more than step 1;</item>
    /// <item>SDPA itself: the fused kernels libtorch picks with a float mask (CUDA's memory-efficient kernel for
    /// fp16/bf16/fp32 with D a multiple of 8 for 16-bit types, of 4 for fp32; the CPU's flash kernel when the mask
    /// needs no gradient) keep no probabilities. Its math fallback (float64 on CUDA, such D, and on the CPU whenever
    /// the mask needs a gradient, which this counts as whenever any input does) materialises logits, probabilities and
    /// a softmax temporary in at least float32: 3a·N, 4a·N with gradients;</item>
    /// <item>backward of the fused kernel: saved mask and its gradient 2e·N, the cast back (e + g)·N, masked_fill's
    /// backward copy 2g·N: again never more than step 1;</item>
    /// <item>terms linear in T (output, q/k/v gradients, kernel workspaces): 32·L with gradients, 4·L without.</item>
    /// </list>
    /// Fused: 2g·N + linear; math fallback: (g + e·[e ≠ g] + 3a or 4a)·N + linear. Against the peak allocated by the
    /// same op sequence on an H200 (libtorch 2.11, bf16, H = 16, D = 64, forward+backward): 8.57 / 16.57 / 32.57 GiB
    /// at (T, B) = (2048, 16) / (4096, 8) / (8192, 4), estimated 9.0 / 17.0 / 33.0 GiB; the math fallback measured
    /// 0.73–0.90 of its estimate (T = 1024, B = 4; bf16, fp32, fp64).
    /// </summary>
    /// <param name="b">batch size B</param>
    /// <param name="h">heads H</param>
    /// <param name="t">sequence length T</param>
    /// <param name="d">head dimension D (of q, k and v)</param>
    /// <param name="dtype">dtype of q</param>
    /// <param name="requiresGrad">whether gradients will flow</param>
    /// <param name="device">where the tensors live</param>
    /// <returns>bytes (saturates at <see cref="long.MaxValue"/>)</returns>
    public static long SdpaBytes(long b, long h, long t, long d, ScalarType dtype, bool requiresGrad, DeviceType device)
    {
        if (b < 1 || h < 1 || t < 1 || d < 1)
            throw new ArgumentOutOfRangeException(nameof(t), $"need B, H, T, D ≥ 1, got [{b}, {h}, {t}, {d}].");
        long e = dtype switch
        {
            ScalarType.Float64 => 8,
            ScalarType.Float32 => 4,
            ScalarType.Float16 or ScalarType.BFloat16 => 2,
            _ => throw new ArgumentException($"q must be a floating dtype, got {dtype}.", nameof(dtype)),
        };
        long g = ForgetGate.GateDType(dtype) == ScalarType.Float64 ? 8 : 4;
        long a = Math.Max(e, 4);
        bool fused = device == DeviceType.CUDA
            ? dtype != ScalarType.Float64 && d % (e == 2 ? 8 : 4) == 0
            : !requiresGrad;
        long perMaskEntry = fused ? 2 * g : g + (e != g ? e : 0) + (requiresGrad ? 4 : 3) * a;
        long perQueryEntry = requiresGrad ? 32 : 4;
        try
        {
            checked
            {
                long rows = b * h * t;
                return rows * t * perMaskEntry + rows * d * perQueryEntry;
            }
        }
        catch (OverflowException) { return long.MaxValue; }
    }

    /// <summary>
    /// Fused SDPA with the decay bias as additive float mask. The mask is cast to q's dtype (libtorch requires it), so
    /// for bf16 inputs the bias carries bf16 rounding (≈ 0.4 % of |D|); use <see cref="Chunked"/> to keep it in float32.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logForget">log forget gates (finite, ≤ 0) <c>[B, H, T]</c>, float32 (or float64)</param>
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Sdpa(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale = null)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        ForgetGate.CheckDomain(logForget, q, nameof(logForget));
        return SdpaUnchecked(q, k, v, logForget, scale);
    }

    /// <summary><see cref="Sdpa"/> after the shape checks, without the domain check.</summary>
    static Tensor SdpaUnchecked(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale)
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
    /// <param name="skipMargin">skip key blocks whose logits all lie more than this below the row maximum (see
    /// <see cref="FoxKernelOptions.SkipMargin"/>); +∞ computes every block</param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Chunked(Tensor q, Tensor k, Tensor v, Tensor logForget, int chunkSize = FoxKernelOptions.DefaultChunkSize,
        double? scale = null, double skipMargin = FoxKernelOptions.DefaultSkipMargin)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        ForgetGate.CheckDomain(logForget, q, nameof(logForget));
        return ChunkedUnchecked(q, k, v, logForget, chunkSize, scale, skipMargin);
    }

    /// <summary><see cref="Chunked"/> after the shape checks, without the domain check.</summary>
    static Tensor ChunkedUnchecked(Tensor q, Tensor k, Tensor v, Tensor logForget, int chunkSize, double? scale, double skipMargin)
    {
        Inputs.CheckQueryKey(q, k);
        Inputs.CheckValues(v, q);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[^1]);
        if (double.IsNaN(skipMargin)) throw new ArgumentOutOfRangeException(nameof(skipMargin), skipMargin, "skipMargin must be a number (+∞ disables skipping).");
        return ChunkedFunction.apply(q, k, v, logForget, chunkSize, s, skipMargin);
    }

    /// <summary>
    /// The chunked kernel as an autograd function: the forward keeps only O and the row log-sum-exp; the backward
    /// recomputes each block's probabilities (FlashAttention style), so neither pass stores a T×T tensor.
    /// Gradient of the bias: dc_i = Σ_j dS_ij − Σ_i' dS_i'i (row sums minus column sums), then
    /// d log f_l = Σ_{i ≥ l} dc_i (reverse cumulative sum), since c_i = Σ_{l ≤ i} log f_l.
    /// </summary>
    sealed class ChunkedFunction : autograd.SingleTensorFunction<ChunkedFunction>
    {
        public override string Name => "ForgettingAttentionChunked";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            Tensor q = (Tensor)vars[0], k = (Tensor)vars[1], v = (Tensor)vars[2], logForget = (Tensor)vars[3];
            int chunkSize = (int)vars[4];
            double scale = (double)vars[5], skipMargin = (double)vars[6];
            using var scope = NewDisposeScope();
            var blocks = new Blocks(q, k, logForget, chunkSize, scale, skipMargin);
            var outputs = new Tensor[blocks.Count];
            var logSumExp = new Tensor[blocks.Count];
            for (int m = 0; m < blocks.Count; m++)
            {
                using var chunkScope = NewDisposeScope();
                var qm = blocks.Rows(q, m);                                          // [B, H, Cq, D]
                Tensor? runMax = null, runSum = null, acc = null;                     // [B, H, Cq, 1], [.., 1], [.., Dv]
                foreach (var (n, bias) in blocks.Biases(m, () => runMax!.amin(new long[] { -2, -1 })))   // diagonal first: every row gets a finite max at once
                {
                    var vn = blocks.Rows(v, n);
                    var logits = blocks.Logits(qm, blocks.Rows(k, n), bias);          // [B, H, Cq, Ck]
                    var blockMax = logits.amax(new long[] { -1 }, keepdim: true);
                    var newMax = runMax is null ? blockMax : maximum(runMax, blockMax);
                    var p = (logits - newMax).exp();
                    var pv = p.to(vn.dtype).matmul(vn).to(blocks.Stats);
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
                logSumExp[m] = (runMax! + runSum!.log()).MoveToOuterDisposeScope();   // [B, H, Cq, 1]
            }
            var o = cat(outputs, 2);                                                  // [B, H, T, Dv] stats dtype
            var lse = cat(logSumExp, 2);                                              // [B, H, T, 1]
            // The context saves after forward returns: keep O and LSE alive past this dispose scope.
            ctx.save_for_backward(new List<Tensor> { q, k, v, logForget, o.detach().MoveToOuterDisposeScope(), lse.detach().MoveToOuterDisposeScope() });
            ctx.save_data("chunkSize", chunkSize);
            ctx.save_data("scale", scale);
            ctx.save_data("skipMargin", skipMargin);
            return o.to(q.dtype).MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            Tensor q = saved[0], k = saved[1], v = saved[2], logForget = saved[3], o = saved[4], lse = saved[5];
            int chunkSize = (int)ctx.get_data("chunkSize");
            double scale = (double)ctx.get_data("scale"), skipMargin = (double)ctx.get_data("skipMargin");
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var blocks = new Blocks(q, k, logForget, chunkSize, scale, skipMargin);
            var stats = blocks.Stats;
            var dO = gradOutput.to(stats);                                        // [B, H, T, Dv]
            var delta = (dO * o).sum(-1, keepdim: true);                              // [B, H, T, 1] = rowsum(dO ⊙ O)
            var dq = zeros(q.shape, dtype: stats, device: q.device);
            var dk = zeros(k.shape, dtype: stats, device: k.device);
            var dv = zeros(v.shape, dtype: stats, device: v.device);
            var dc = zeros(logForget.shape, dtype: stats, device: q.device);         // dL/dc [B, H, T]
            var qs = q.to(stats); var ks = k.to(stats); var vs = v.to(stats);
            for (int m = 0; m < blocks.Count; m++)
            {
                using var chunkScope = NewDisposeScope();
                var (m0, m1) = blocks.Span(m);
                var qm = qs[.., .., m0..m1];
                var dOm = dO[.., .., m0..m1];
                var lseM = lse[.., .., m0..m1];
                var deltaM = delta[.., .., m0..m1];
                var dqm = zeros_like(qm);
                var dcm = zeros(dc.shape[0], dc.shape[1], m1 - m0, dtype: stats, device: q.device);
                foreach (var (n, bias) in blocks.Biases(m, () => lseM.amin(new long[] { -2, -1 })))
                {
                    var (n0, n1) = blocks.Span(n);
                    var kn = ks[.., .., n0..n1];
                    var p = (blocks.Logits(qm, kn, bias) - lseM).exp();               // [B, H, Cq, Ck], 0 where masked
                    var dP = dOm.matmul(vs[.., .., n0..n1].transpose(-2, -1));
                    var dS = p * (dP - deltaM);                                       // dL/d(logit)
                    dqm.add_(dS.matmul(kn), alpha: scale);
                    dk[.., .., n0..n1].add_(dS.transpose(-2, -1).matmul(qm), alpha: scale);
                    dv[.., .., n0..n1].add_(p.transpose(-2, -1).matmul(dOm));
                    dcm.add_(dS.sum(-1));                                             // + row sums at queries
                    dc[.., .., n0..n1].sub_(dS.sum(-2));                              // − column sums at keys
                }
                dq[.., .., m0..m1].copy_(dqm);
                dc[.., .., m0..m1].add_(dcm);
            }
            var dLogForget = dc.flip(-1).cumsum(-1).flip(-1);                         // Σ_{i ≥ l} dc_i
            var grads = new Tensor?[]
            {
                dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), dLogForget.to(logForget.dtype), null, null, null,
            };
            return CustomGradients.Return(grads, saved.Append(gradOutput));
        }
    }

    /// <summary>
    /// Chunk bookkeeping shared by the forward and backward passes: chunk spans, chunk-local cumulative log gates L
    /// <c>[B, H, C]</c> and chunk totals S <c>[B, H]</c>, and the bias of a block from them.
    /// </summary>
    sealed class Blocks
    {
        static long skipped;
        /// <summary>Key blocks skipped so far (forward and backward), for tests.</summary>
        internal static long Skipped => Interlocked.Read(ref skipped);

        readonly long length;
        readonly int chunkSize;
        readonly double scale, skipMargin;
        readonly Tensor[] local, totals;

        public ScalarType Stats { get; }
        public int Count { get; }

        readonly Tensor[] queryNormMax, keyNormMax;                                    // [B, H] per chunk

        public Blocks(Tensor q, Tensor k, Tensor logForget, int chunkSize, double scale, double skipMargin)
        {
            length = q.shape[2];
            this.chunkSize = chunkSize;
            this.scale = scale;
            this.skipMargin = skipMargin;
            Stats = ForgetGate.GateDType(q.dtype);
            Count = (int)((length + chunkSize - 1) / chunkSize);
            var logf = logForget.to(Stats);
            local = new Tensor[Count];
            totals = new Tensor[Count];
            queryNormMax = new Tensor[Count];
            keyNormMax = new Tensor[Count];
            var queryNorms = q.detach().to(Stats).pow(2).sum(-1).sqrt();               // [B, H, T]
            var keyNorms = k.detach().to(Stats).pow(2).sum(-1).sqrt();
            for (int c = 0; c < Count; c++)
            {
                var (a, b) = Span(c);
                local[c] = logf[.., .., a..b].cumsum(-1, Stats);
                totals[c] = local[c][.., .., -1];
                queryNormMax[c] = queryNorms[.., .., a..b].amax(new long[] { -1 });
                keyNormMax[c] = keyNorms[.., .., a..b].amax(new long[] { -1 });
            }
        }

        public (int Start, int End) Span(int chunk) => (chunk * chunkSize, (int)Math.Min(length, (long)(chunk + 1) * chunkSize));

        public Tensor Rows(Tensor x, int chunk) { var (a, b) = Span(chunk); return x[.., .., a..b]; }

        /// <summary>
        /// Key chunks n = m, m−1, …, 0 with the bias block <c>[B, H, Cq, Ck]</c> c_i − c_j = L_i − L_j + Σ_{n ≤ p &lt; m} S_p,
        /// −∞ above the diagonal of the diagonal block.
        /// </summary>
        public IEnumerable<(int KeyChunk, Tensor Bias)> Biases(int m, Func<Tensor> floor)
        {
            Tensor gap = zeros_like(totals[m]);                                       // Σ_{n ≤ p < m} S_p, [B, H]
            for (int n = m; n >= 0; n--)
            {
                if (n < m)
                {
                    gap = gap + totals[n];
                    // Skip a block whose best logit, scale·max‖q‖·max‖k‖ + max bias, lies skipMargin below every row's
                    // current max (or final log-sum-exp): its softmax weights are < e^−skipMargin (adaptive pruning, ACP).
                    var bound = local[m].amax(new long[] { -1 }) - local[n].amin(new long[] { -1 }) + gap + scale * queryNormMax[m] * keyNormMax[n];
                    if (bound.lt(floor() - skipMargin).all().item<bool>()) { Interlocked.Increment(ref skipped); continue; }
                }
                var bias = local[m].unsqueeze(-1) - local[n].unsqueeze(-2) + gap.unsqueeze(-1).unsqueeze(-1);
                if (n == m)
                {
                    long size = local[m].shape[^1];
                    bias = bias.masked_fill(ones(size, size, dtype: ScalarType.Bool, device: bias.device).triu(1), double.NegativeInfinity);
                }
                yield return (n, bias);
            }
        }

        /// <summary>scale·q_m k_nᵀ + bias in the statistics dtype, <c>[B, H, Cq, Ck]</c>.</summary>
        /// <remarks>
        /// In the statistics dtype even for half-precision q and k (the products are exact in float32, or TF32 on
        /// CUDA): the backward recomputes the logits in that dtype, so logits rounded to bf16 here would give a row
        /// log-sum-exp that does not match the recomputed probabilities (found by the property suite: bf16 gradients
        /// of log f off by 11 % at ×10 logits).
        /// </remarks>
        public Tensor Logits(Tensor qm, Tensor kn, Tensor bias) => qm.to(Stats).matmul(kn.to(Stats).transpose(-2, -1)) * scale + bias;
    }
}
