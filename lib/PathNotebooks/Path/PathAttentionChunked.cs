using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using PathNotebooks.Runtime;

namespace PathNotebooks.PaTH;

/// <summary>
/// PaTH attention with batched matmuls only (see docs/path.md, "UT transform" and "Chunked algorithm"): per chunk
/// of C positions a UT transform gives
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
    /// PaTH (or PaTH-FoX) attention without any <c>[B, H, T, T]</c> tensor: a softmax with one fixed stabiliser, a sum
    /// and an accumulator per query row. The intra-chunk part (UT transform, boundary-adjusted queries and keys) is
    /// ordinary autograd; the δ-sweep across chunks is one autograd function (<see cref="Sweep"/>) whose backward
    /// recomputes every block's probabilities. Memory: O(B·H·T·(D + Dv + C)) without gradients (per-chunk C×C blocks);
    /// with gradients also the moved queries of every sweep step, <c>B·H·T²·(D + 4) / (2C)</c> numbers (at C = D about
    /// half a causal attention matrix, 4× less at C = 256, D = 64), never the probabilities.
    /// <para>On CUDA with half-precision inputs the float32 matmuls run as TF32 (10-bit mantissa, float32 range and
    /// accumulation): more precise than the bf16 inputs, and what makes the sweep fast. float32 inputs stay full float32.</para>
    /// </summary>
    /// <param name="q"><c>[B, H, T, D]</c></param>
    /// <param name="k"><c>[B, H, T, D]</c></param>
    /// <param name="v"><c>[B, H, T, Dv]</c></param>
    /// <param name="w">unit vectors <c>[B, H, T, D]</c></param>
    /// <param name="beta"><c>[B, H, T]</c>, in (0, 2)</param>
    /// <param name="logForget">optional <c>log f_t</c> <c>[B, H, T]</c> (PaTH-FoX)</param>
    /// <param name="chunkSize">C; any T works (the last chunk is padded)</param>
    /// <param name="scale">softmax scale (default <c>1/√D</c>)</param>
    /// <param name="inverse">how the per-chunk UT transforms invert <c>I + A</c> (<see cref="Householder.UT"/>); same result either way</param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null, UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        PathChecks.Domain(q, k, v, w, beta, logForget);
        return ForwardUnchecked(q, k, v, w, beta, logForget, chunkSize, scale, inverse);
    }

    /// <summary>
    /// <see cref="Forward"/> after the shape checks only, without the domain check's reductions and GPU wait: for the
    /// layer, whose w (normalised) and β (2σ) lie in the domain by construction.
    /// </summary>
    internal static Tensor ForwardUnchecked(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget,
        int chunkSize, double? scale, UnitLowerInverse inverse)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        CheckChunk(chunkSize);
        using var tf32 = Tf32Scope.For(q);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, v, w, beta, logForget, chunkSize, inverse);
        double sc = scale ?? 1.0 / Math.Sqrt(q.shape[3]);

        var intra = sc * p.IntraLogits;                                               // [B, H, N, C, C]
        if (p.Cumulative is not null) intra = intra + sc * (p.Cumulative.unsqueeze(-1) - p.Cumulative.unsqueeze(-2));
        intra = intra.masked_fill(p.AboveDiagonal, double.NegativeInfinity);
        // The sweep works chunk-major, [N, B·H, C, X]: slicing chunks is then a contiguous view, so the batched
        // matmuls of a step read their operands in place instead of copying them.
        var bias = p.Cumulative is null ? empty(0, dtype: intra.dtype, device: intra.device) : ChunkMajor(sc * p.Cumulative.unsqueeze(-1)).squeeze(-1);
        // Crossing a whole chunk is the dense D×D product P = I − Wᵀ U of its transforms (row vectors: x ← x P).
        // With C ≥ D/2 one X·P costs less than X − (X Wᵀ) U and builds no C×C intermediate.
        var wc = ChunkMajor(p.W);
        var transition = eye(wc.shape[^1], dtype: wc.dtype, device: wc.device) - wc.transpose(-2, -1).matmul(ChunkMajor(p.U));   // [N, G, D, D]
        var inputs = new[] { ChunkMajor(intra), ChunkMajor(sc * p.QTilde), ChunkMajor(p.KTilde), transition, ChunkMajor(p.V), bias };
        // The sweep's fixed per-row stabiliser relies on cross-chunk bias ≤ 0, i.e. log f ≤ 0 (what a gate produces).
        bool biasNonPositive = logForget is null || (logForget <= 0).all().item<bool>();
        var o = is_grad_enabled() && inputs.Any(t => t.requires_grad)
            ? SweepFunction.apply(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], tf32.Active, biasNonPositive)
            : Sweep.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], bias.numel() == 0 ? null : bias, biasNonPositive, keepQueries: false).Output;
        // [N, B·H, C, Dv] → [B, H, N, C, Dv]
        var chunked = o.reshape(p.Chunks, p.BatchSize, p.Heads, p.ChunkSize, o.shape[^1]).permute(1, 2, 0, 3, 4);
        return p.Unchunk(chunked).to(q.dtype).MoveToOuterDisposeScope();

        Tensor ChunkMajor(Tensor x) =>                                                // [B, H, N, C, X] → [N, B·H, C, X]
            x.reshape(p.BatchSize * p.Heads, p.Chunks, p.ChunkSize, x.shape[^1]).transpose(0, 1).contiguous();
    }

    /// <summary>
    /// The cross-chunk δ-sweep, chunk-major layout <c>[N, G, C, X]</c> (G = B·H), no autograd inside.
    /// Inputs: intra-chunk logits S₀ (scaled, −∞ above the diagonal) <c>[N, G, C, C]</c>; scaled boundary queries
    /// X = scale·Q̃ and keys K̃ <c>[N, G, C, D]</c>; the chunk transitions <c>P = I − Wᵀ U</c> <c>[N, G, D, D]</c>; values
    /// <c>[N, G, C, Dv]</c>; optional scaled cumulative log-forget c <c>[N, G, C]</c> (bias <c>c_i − c_j</c>).
    /// Step δ pairs query chunks δ … N−1 with key chunks 0 … N−1−δ; then the queries of chunks δ+1 … N−1 cross one
    /// more chunk, <c>X ← X P</c>.
    /// <para><b>One stabiliser per row.</b> Every factor <c>H_t</c> has spectral norm 1, so a cross-chunk logit obeys
    /// <c>s_ij ≤ ‖x_i‖·max‖k̃‖</c> (+ a bias ≤ 0). The softmax is shifted by a fixed m_i = max(exact intra-chunk row max,
    /// that bound − 50) instead of a running maximum: no per-block max, no rescaling, exponents ≤ 50, and the row's
    /// own diagonal term stays far above underflow. When the bound is too loose (bound − intra max &gt; 120) or the
    /// bias may be positive, a first sweep finds the exact row maxima instead (<see cref="ExactFallbacks"/> counts it).</para>
    /// <para><b>Augmented matmuls.</b> Queries carry 4 extra columns <c>[a_hi, a_lo, 1, 1]</c> and keys
    /// <c>[1, 1, −c_hi, −c_lo]</c> with a = c − m, so one matmul yields <c>s_ij + c_i − c_j − m_i</c> and the only pass
    /// left over a C×C block is the exponential. a and c are split into a head with 10 mantissa bits and the exact
    /// remainder, so TF32 tensor cores (10-bit inputs) still add them exactly. The transitions act on the first D
    /// columns only (block-diagonal with I₄). Values carry a column of ones (row sums from <c>E·[V, 1]</c>), and the
    /// backward's <c>dO Vᵀ − rowsum(dO ⊙ O)</c> is <c>[dO, −rowsum]·[V, 1]ᵀ</c>; the bias gradient falls out of the
    /// extra columns of dX and dK. Widths are padded to a multiple of 4 (aligned TF32/float tiles).</para>
    /// </summary>
    internal static class Sweep
    {
        /// <summary>Output <c>[N, G, C, Dv]</c>, stabiliser m and row sum l (<c>lse = m + log l</c>) <c>[N, G, C]</c>, moved queries.</summary>
        public sealed record Result(Tensor Output, Tensor Shift, Tensor RowSum, Tensor[] MovedQueries);

        const int ExtraColumns = 4;
        const double Headroom = 50, MaxGap = 120;
        static long exactFallbacks;

        /// <summary>Sweeps that needed the exact row-maximum pass (see the class remarks); for tests.</summary>
        internal static long ExactFallbacks => Interlocked.Read(ref exactFallbacks);

        /// <summary><c>[..., X]</c> → <c>[..., X + 1 + pad]</c>: <paramref name="x"/>, then <paramref name="extra"/> (<c>[...]</c>), then zeros.</summary>
        static Tensor Augment(Tensor x, Tensor extra)
        {
            long width = x.shape[^1] + 1, padded = (width + 3) / 4 * 4;
            var parts = new List<Tensor> { x, extra.unsqueeze(-1) };
            if (padded > width) parts.Add(zeros([.. x.shape[..^1], padded - width], dtype: x.dtype, device: x.device));
            return cat(parts, -1);
        }

        /// <summary>
        /// x = hi + lo exactly, hi with at most 10 explicit mantissa bits (what a TF32 input keeps); Veltkamp's split
        /// with factor 2¹³ + 1. float64 is never computed as TF32: (x, 0).
        /// </summary>
        static (Tensor Hi, Tensor Lo) Split(Tensor x)
        {
            if (x.dtype != ScalarType.Float32) return (x, zeros_like(x));
            var c = x * 8193.0;
            var hi = c - (c - x);
            return (hi, x - hi);
        }

        static Tensor Ones(Tensor like) => ones(like.shape, dtype: like.dtype, device: like.device);

        /// <summary>Keys <c>[K̃, 1, 1, −c_hi, −c_lo]</c> <c>[N, G, C, D + 4]</c>.</summary>
        static Tensor KeysAugmented(Tensor kTilde, Tensor? bias)
        {
            var one = Ones(kTilde[TensorIndex.Ellipsis, 0]);
            var (hi, lo) = bias is null ? (zeros_like(one), zeros_like(one)) : Split(bias);
            return cat(new[] { kTilde, one.unsqueeze(-1), one.unsqueeze(-1), (-hi).unsqueeze(-1), (-lo).unsqueeze(-1) }, -1);
        }

        /// <summary>Transitions acting on the first D columns: <c>[[P, 0], [0, I₄]]</c> <c>[N, G, D + 4, D + 4]</c>.</summary>
        static Tensor TransitionsAugmented(Tensor transition)
        {
            var batch = transition.shape[..^2];
            long d = transition.shape[^1];
            var top = cat(new[] { transition, zeros([.. batch, d, ExtraColumns], dtype: transition.dtype, device: transition.device) }, -1);
            var bottom = cat(new[] { zeros([.. batch, ExtraColumns, d], dtype: transition.dtype, device: transition.device),
                eye(ExtraColumns, dtype: transition.dtype, device: transition.device).expand([.. batch, ExtraColumns, ExtraColumns]) }, -1);
            return cat(new[] { top, bottom }, -2);
        }

        /// <summary>Exact row maxima of all logits (intra and cross chunks), by a sweep without exponentials.</summary>
        static Tensor ExactRowMax(Tensor rowMax, Tensor x, Tensor kTilde, Tensor transition, Tensor? bias)
        {
            int n = (int)x.shape[0];
            var m = rowMax.clone();
            var xs = x[1..];
            for (int delta = 1; delta < n; delta++)
            {
                using var step = NewDisposeScope();
                var s = xs.matmul(kTilde[..(n - delta)].transpose(-2, -1));
                if (bias is not null) s.add_(bias[delta..].unsqueeze(-1)).sub_(bias[..(n - delta)].unsqueeze(-2));
                m[delta..].copy_(maximum(m[delta..], s.amax(new long[] { -1 })));
                if (delta < n - 1) xs = xs[1..].matmul(transition[1..(n - delta)]).MoveToOuterDisposeScope();
            }
            return m;
        }

        /// <summary>The forward sweep; keeps every step's moved (augmented) queries when <paramref name="keepQueries"/>.</summary>
        public static Result Forward(Tensor intra, Tensor x, Tensor kTilde, Tensor transition, Tensor v, Tensor? bias,
            bool biasNonPositive, bool keepQueries)
        {
            using var noGrad = no_grad();
            int n = (int)x.shape[0];
            long dv = v.shape[^1];
            var rowMax = intra.amax(new long[] { -1 });                               // [N, G, C]; the diagonal is always finite
            var bound = x.norm(dim: -1) * kTilde.norm(dim: -1).amax(new long[] { 0, 2 }).view(1, -1, 1);   // ≥ every cross-chunk logit
            bound = cat(new[] { rowMax[..1], bound[1..] }, 0);                         // chunk 0 has no cross-chunk keys
            bool safe = (bias is null || biasNonPositive) && (bound - rowMax <= MaxGap).all().item<bool>();
            if (!safe) Interlocked.Increment(ref exactFallbacks);
            var shift = safe ? maximum(rowMax, bound - Headroom) : ExactRowMax(rowMax, x, kTilde, transition, bias);

            var (ah, al) = Split(bias is null ? -shift : bias - shift);
            var one = Ones(shift);
            var xAug = cat(new[] { x, ah.unsqueeze(-1), al.unsqueeze(-1), one.unsqueeze(-1), one.unsqueeze(-1) }, -1);
            var kAug = KeysAugmented(kTilde, bias);
            var pAug = TransitionsAugmented(transition);
            var vOnes = Augment(v, Ones(v[TensorIndex.Ellipsis, 0]));               // [V, 1, 0…]
            var acc = (intra - shift.unsqueeze(-1)).exp_().matmul(vOnes);            // [.., :Dv] Σ e·v, [.., Dv] Σ e
            var moved = new Tensor[keepQueries ? Math.Max(n - 1, 0) : 0];
            var xs = xAug[1..];                                                       // queries of chunks 1 … N−1 at their chunk start
            for (int delta = 1; delta < n; delta++)
            {
                using var step = NewDisposeScope();
                if (keepQueries) moved[delta - 1] = xs;
                var e = xs.matmul(kAug[..(n - delta)].transpose(-2, -1)).exp_();     // [N−δ, G, C, C] = exp(s + c_i − c_j − m_i)
                acc[delta..].add_(e.matmul(vOnes[..(n - delta)]));
                if (delta < n - 1)
                {
                    var crossed = xs[1..].matmul(pAug[1..(n - delta)]).MoveToOuterDisposeScope();   // chunks δ+1 … cross chunks 1 … N−1−δ
                    if (!keepQueries && delta > 1) xs.Dispose();                       // only the backward needs old steps
                    xs = crossed;
                }
            }
            var rowSum = acc[TensorIndex.Ellipsis, dv];
            var output = acc[TensorIndex.Ellipsis, TensorIndex.Slice(null, dv)] / rowSum.unsqueeze(-1);
            return new Result(output, shift, rowSum.contiguous(), moved);
        }

        /// <summary>
        /// Gradients of the sweep by recomputation. With E = exp(s + c_i − c_j − m_i) and P = E / l: dV += Pᵀ dO,
        /// dS = P ⊙ (dO Vᵀ − rowsum(dO ⊙ O)), dX̂ += dS K̂ (+ the gradient G from the next step through X̂' = X̂ P̂:
        /// dX̂ += G P̂ᵀ, dP̂ += X̂ᵀ G), dK̂ += dSᵀ X̂ (hats: augmented), walking δ downwards. 1/l is folded into dO.
        /// </summary>
        /// <returns>dS₀, dX (= d(scale·Q̃)), dK̃, dP, dV, dBias (null without a bias)</returns>
        public static Tensor?[] Backward(Tensor gradOutput, Tensor output, Tensor shift, Tensor rowSum, Tensor[] moved,
            Tensor intra, Tensor kTilde, Tensor transition, Tensor v, Tensor? bias)
        {
            using var noGrad = no_grad();
            int n = (int)kTilde.shape[0];
            long d = kTilde.shape[^1];
            var kAug = KeysAugmented(kTilde, bias);
            var pAug = TransitionsAugmented(transition);
            var vOnes = Augment(v, Ones(v[TensorIndex.Ellipsis, 0]));
            var inverseSum = rowSum.reciprocal().unsqueeze(-1);                       // [N, G, C, 1]
            var dO = gradOutput.to(output.dtype);
            var rowDot = (dO * output).sum(-1, keepdim: true);                       // rowsum(dO ⊙ O)
            var dOScaled = dO * inverseSum;                                           // dO / l: turns E into P in every product
            var dOAug = Augment(dOScaled, -(rowDot * inverseSum).squeeze(-1));        // [dO/l, −rowsum/l, 0…]
            var e0 = (intra - shift.unsqueeze(-1)).exp_();
            var dIntra = dOAug.matmul(vOnes.transpose(-2, -1)).mul_(e0);
            var dV = e0.transpose(-2, -1).matmul(dOScaled);
            e0.Dispose();
            var dKAug = zeros_like(kAug);
            var dPAug = zeros_like(pAug);
            var dXAug = zeros_like(kAug);
            Tensor? next = null;                                                      // gradient of the queries of step δ+1
            for (int delta = n - 1; delta >= 1; delta--)
            {
                using var step = NewDisposeScope();
                var xs = moved[delta - 1];                                            // [N−δ, G, C, D + 4], query chunks δ … N−1
                var keys = kAug[..(n - delta)];
                var e = xs.matmul(keys.transpose(-2, -1)).exp_();                     // [N−δ, G, C, C], as in the forward
                dV[..(n - delta)].add_(e.transpose(-2, -1).matmul(dOScaled[delta..]));
                var dS = dOAug[delta..].matmul(vOnes[..(n - delta)].transpose(-2, -1)).mul_(e);
                e.Dispose();
                dKAug[..(n - delta)].add_(dS.transpose(-2, -1).matmul(xs));
                var grad = dS.matmul(keys);                                           // [N−δ, G, C, D + 4]
                if (next is not null)
                {
                    dPAug[1..(n - delta)].add_(xs[1..].transpose(-2, -1).matmul(next));
                    grad[1..].add_(next.matmul(pAug[1..(n - delta)].transpose(-2, -1)));
                }
                next?.Dispose();
                next = grad.MoveToOuterDisposeScope();
            }
            if (next is not null) dXAug[1..].copy_(next);
            var all = TensorIndex.Ellipsis;
            Tensor? dBias = bias is null ? null : dXAug[all, d] - dKAug[all, d + 2];       // query side: Σ_j dS; key side: −Σ_i dS
            return new Tensor?[]
            {
                dIntra, dXAug[all, TensorIndex.Slice(null, d)], dKAug[all, TensorIndex.Slice(null, d)],
                dPAug[all, TensorIndex.Slice(null, d), TensorIndex.Slice(null, d)], dV, dBias,
            };
        }
    }

    /// <summary>Autograd wrapper of <see cref="Sweep"/>: saves the output, the row stabiliser and sum, and the moved queries.</summary>
    sealed class SweepFunction : autograd.SingleTensorFunction<SweepFunction>
    {
        public override string Name => "PathChunkSweep";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            Tensor intra = (Tensor)vars[0], x = (Tensor)vars[1], kTilde = (Tensor)vars[2], transition = (Tensor)vars[3],
                v = (Tensor)vars[4], bias = (Tensor)vars[5];
            using var scope = NewDisposeScope();
            var r = Sweep.Forward(intra, x, kTilde, transition, v, bias.numel() == 0 ? null : bias, (bool)vars[7], keepQueries: true);
            ctx.save_data("tf32", (bool)vars[6]);
            var saved = new List<Tensor> { intra, kTilde, transition, v, bias, r.Output.MoveToOuterDisposeScope(),
                r.Shift.MoveToOuterDisposeScope(), r.RowSum.MoveToOuterDisposeScope() };
            saved.AddRange(r.MovedQueries.Select(t => t.MoveToOuterDisposeScope()));
            ctx.save_for_backward(saved);
            // Return a new tensor: the saved output must stay untouched by whatever the caller does with the result.
            return r.Output.clone().MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            Tensor intra = saved[0], kTilde = saved[1], transition = saved[2], v = saved[3], bias = saved[4], output = saved[5],
                shift = saved[6], rowSum = saved[7];
            var moved = saved.Skip(8).ToArray();
            using var tf32 = Tf32Scope.For(gradOutput, (bool)ctx.get_data("tf32"));
            using var scope = NewDisposeScope();
            var g = Sweep.Backward(gradOutput, output, shift, rowSum, moved, intra, kTilde, transition, v, bias.numel() == 0 ? null : bias);
            return CustomGradients.Return(g.Append(null).Append(null), saved.Append(gradOutput));   // nulls: the two flags
        }
    }

    /// <summary>
    /// Same result as <see cref="Forward"/>, by materialising the logits <c>[B, H, T, T]</c> (<see cref="Logits"/>) and
    /// one softmax. Simpler, O(B·H·T²) memory; the layer uses it when attention probabilities are captured.
    /// </summary>
    public static Tensor ForwardMaterialized(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null, UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        PathChecks.Inputs(q, k, v, w, beta, logForget);
        PathChecks.Domain(q, k, v, w, beta, logForget);
        using var scope = NewDisposeScope();
        var probs = Probabilities(q, k, w, beta, logForget, chunkSize, scale, inverse);
        return probs.matmul(v.to(probs.dtype)).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Attention probabilities <c>[B, H, T, T]</c> (float32, or float64 for float64 inputs; zero above the diagonal).</summary>
    public static Tensor Probabilities(Tensor q, Tensor k, Tensor w, Tensor beta, Tensor? logForget = null,
        int chunkSize = DefaultChunkSize, double? scale = null, UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        PathChecks.Inputs(q, k, k, w, beta, logForget);
        PathChecks.Domain(q, k, k, w, beta, logForget);
        using var scope = NewDisposeScope();
        var logits = Logits(q, k, w, beta, chunkSize, inverse);
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
    public static Tensor Logits(Tensor q, Tensor k, Tensor w, Tensor beta, int chunkSize = DefaultChunkSize,
        UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        PathChecks.Inputs(q, k, k, w, beta, null);
        PathChecks.Domain(q, k, k, w, beta, null);
        CheckChunk(chunkSize);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, k, w, beta, null, chunkSize, inverse);
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

    /// <summary>
    /// Per-chunk quantities (docs/path.md, "Boundary-adjusted queries and keys"), all in the accumulation dtype.
    /// </summary>
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

    internal static Prepared Prepare(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget, int chunkSize,
        UnitLowerInverse inverse = UnitLowerInverse.Auto)
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
        var ut = Householder.UT(wc, bc, inverse);                                      // T [.., C, C], U [.., C, D]
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
