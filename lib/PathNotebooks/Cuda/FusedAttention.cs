using PathNotebooks.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Cuda;

/// <summary>
/// Causal softmax attention in one fused CUDA kernel per pass (<c>Cuda/Sources/flash_attention.cu</c>), with two
/// optional terms of the kit's mixers: FoX's forget-gate bias <c>c_i − c_j</c> (c = cumsum log f, added unscaled to
/// the scaled logit, as <see cref="Forgetting.ForgettingAttentionNaive"/>) and a sliding window (key j visible from
/// query i when i − W &lt; j ≤ i, as <see cref="Softmax.SlidingWindowAttention"/>). FlashAttention-2 tiles
/// (<see cref="ForwardQueryTile"/> queries × 64 keys in the forward, 64 × 64 in the backward) on tensor cores (bf16 or fp16 inputs, float32 accumulation), an online softmax, no T×T tensor in
/// either pass; the backward recomputes the probabilities and returns gradients for q, k, v and log f.
/// <para>Inputs: q, k, v <c>[B, H, T, D]</c> with D = 64 or 128, bf16 or fp16, on a CUDA device with
/// <see cref="CudaKernelHost.IsAvailable"/>; log f <c>[B, H, T]</c> (any floating dtype; the cumulative sum runs in
/// float32). <see cref="WhyNot(Tensor, CudaKernelHost?)"/> says whether a call can run, so layers fall back to their TorchSharp forms.</para>
/// </summary>
public static class FusedAttention
{
    /// <summary>The embedded source holding the kernels.</summary>
    public const string SourceName = "flash_attention.cu";

    /// <summary>The head dimensions the kernels are instantiated for.</summary>
    public static IReadOnlyList<long> HeadDims { get; } = new long[] { 64, 128 };

    const int Tile = 64, Threads = 128;

    /// <summary>
    /// The margin to use when turning on FoX's block skipping: a key block is skipped when every logit in it is provably
    /// more than this below its row's maximum, so its weights are below e^−100 ≈ 4e−44 (the chunked form's default).
    /// </summary>
    public const double DefaultSkipMargin = 100.0;

    /// <summary>Queries per forward block: 128 at D = 64 (each of the four warps holds two 16-row MMA tiles), 64 at
    /// D = 128 (where two tiles would not fit the registers).</summary>
    public static int ForwardQueryTile(long headDim) => headDim <= 64 ? 2 * Tile : Tile;

    /// <summary>Pipeline stages of the backward's query tiles: 2 at D = 64 (the next Q/dO tile loads while this one
    /// computes), 1 at D = 128 (shared memory).</summary>
    public static int BackwardStages(long headDim) => headDim <= 64 ? 2 : 1;

    /// <summary>Dynamic shared memory of the forward kernel: two pipeline stages of K and V tiles (64 × (D + 8) halves
    /// each) and 64 gate sums.</summary>
    public static int ForwardSharedBytes(long headDim) => (int)(2 * (2 * Tile * (headDim + 8) * 2 + Tile * 4));

    /// <summary>Dynamic shared memory of the backward kernel: the K and V tiles, the dS tile (64 × 72 halves), 64 floats
    /// of FoX row sums, then <see cref="BackwardStages"/> stages of Q and dO tiles with three rows of 64 floats
    /// (log-sum-exp, Δ, c).</summary>
    public static int BackwardSharedBytes(long headDim) =>
        (int)(2 * Tile * (headDim + 8) * 2 + Tile * (Tile + 8) * 2 + Tile * 4 + BackwardStages(headDim) * (2 * Tile * (headDim + 8) * 2 + 3 * Tile * 4));

    /// <summary>
    /// Null when <see cref="Forward"/> can run on q (device, dtype, head dimension, kernel host), else the reason in
    /// words. Shapes are not checked here; <see cref="Forward"/> checks them.
    /// </summary>
    public static string? WhyNot(Tensor q, CudaKernelHost? host = null) =>
        WhyNot(q.device_type, q.dtype, q.dim() == 4 ? q.shape[3] : -1, host);

    /// <summary><see cref="WhyNot(Tensor, CudaKernelHost?)"/> from the device, dtype and head dimension alone.</summary>
    public static string? WhyNot(DeviceType device, ScalarType dtype, long headDim, CudaKernelHost? host = null)
    {
        if (device != DeviceType.CUDA) return $"the tensors are on {device}, the fused kernels run on CUDA";
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float16)) return $"the dtype is {dtype}, the fused kernels take bf16 or fp16";
        if (!HeadDims.Contains(headDim)) return $"head dimension {headDim}: the fused kernels have D = 64 and 128";
        host ??= CudaKernelHost.Shared;
        return host.IsAvailable ? null : host.Status;
    }

    /// <summary>
    /// O = softmax(scale·QKᵀ + D + mask)·V. Differentiable in q, k, v and <paramref name="logForget"/>.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, D]</c>, bf16 or fp16, D ∈ {64, 128}</param>
    /// <param name="k">keys <c>[B, H, T, D]</c>, q's dtype</param>
    /// <param name="v">values <c>[B, H, T, D]</c>, q's dtype</param>
    /// <param name="logForget">log forget gates <c>[B, H, T]</c> (≤ 0) for FoX's bias; null for none</param>
    /// <param name="window">W ≥ 1 for a sliding window, 0 for full causal attention</param>
    /// <param name="scale">logit scale &gt; 0 (the kernels take row maxima on the unscaled products); null = 1/√D</param>
    /// <param name="host">the kernel host; null = <see cref="CudaKernelHost.Shared"/></param>
    /// <param name="skipMargin">FoX only: skip a key block (forward) or query block (backward) whose logits all lie
    /// provably more than this below their rows' maximum — bound: c_i − min c_j + scale·‖q_i‖·max ‖k_j‖ against the
    /// diagonal logit (forward) or the log-sum-exp (backward). With a strongly forgetting gate the cost becomes
    /// O(T · reach) instead of O(T²); the bounds cost one statistics pass over q and k, which does not pay off for
    /// gates that keep most of the sequence. +∞ (the default) computes every block; <see cref="DefaultSkipMargin"/> is
    /// the value to turn it on with.</param>
    /// <returns>O <c>[B, H, T, D]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor? logForget = null, int window = 0, double? scale = null,
        CudaKernelHost? host = null, double skipMargin = double.PositiveInfinity) =>
        Run(q, k, v, logForget, window, scale, host, poisonOutputs: false, skipMargin, skipCounter: null);

    /// <summary>
    /// <see cref="Forward"/> with every output buffer (O, the log-sum-exp, dK, dV and the key part of d log f) filled
    /// with NaN before each kernel writes it: an element a kernel forgets to write shows up as NaN (the kernel check).
    /// </summary>
    /// <remarks><paramref name="skipCounter"/>, when given (int32 <c>[2]</c> on the device, zeroed), counts the skipped
    /// blocks: [0] in the forward, [1] in the backward.</remarks>
    internal static Tensor ForwardWithPoisonedOutputs(Tensor q, Tensor k, Tensor v, Tensor? logForget, int window, CudaKernelHost? host = null,
        Tensor? skipCounter = null, double skipMargin = DefaultSkipMargin) =>
        Run(q, k, v, logForget, window, null, host, poisonOutputs: true, skipMargin, skipCounter);

    static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor? logForget, int window, double? scale, CudaKernelHost? host, bool poisonOutputs,
        double skipMargin, Tensor? skipCounter)
    {
        if (double.IsNaN(skipMargin)) throw new ArgumentOutOfRangeException(nameof(skipMargin), skipMargin, "skipMargin must be a number (+∞ disables skipping).");
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
        if (t < 1) throw new ArgumentException($"q must have shape [B, H, T, D] with T ≥ 1, got {Shapes.Describe(q)}.", nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, D]", b, h, t, d);
        Shapes.Exactly(v, nameof(v), "[B, H, T, D] (the fused kernels need Dv = D)", b, h, t, d);
        if (logForget is not null)
        {
            Shapes.Exactly(logForget, nameof(logForget), "[B, H, T]", b, h, t);
            Shapes.Floating(logForget, nameof(logForget));
        }
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 1 (sliding window) or 0 (full causal attention).");
        if (k.dtype != q.dtype || v.dtype != q.dtype) throw new ArgumentException($"k and v must have q's dtype {q.dtype}, got {k.dtype} and {v.dtype}.", nameof(k));
        static bool Same(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
        if (!Same(k, q) || !Same(v, q) || (logForget is not null && !Same(logForget, q)))
            throw new ArgumentException($"q, k, v and logForget must be on one device (q is on {q.device}).", nameof(k));
        double s = scale ?? 1.0 / Math.Sqrt(d);
        if (!(s > 0) || !double.IsFinite(s)) throw new ArgumentOutOfRangeException(nameof(scale), s, "scale must be a finite number > 0.");
        if (WhyNot(q, host) is { } why) throw new NotSupportedException($"FusedAttention: {why}.");
        if ((t + Tile - 1) / Tile > 65535) throw new ArgumentException($"T = {t} exceeds the kernels' grid limit of 65 535 tiles of {Tile}.", nameof(q));
        if (b * h * t > int.MaxValue) throw new ArgumentException($"B·H·T = {b * h * t} rows exceed the kernels' limit of 2³¹ − 1.", nameof(q));
        if (logForget is not null && double.IsFinite(skipMargin) && b * h > 65535)
            throw new ArgumentException($"B·H = {b * h} exceeds the skip-statistics kernel's grid limit of 65 535; use skipMargin = +∞ (no skipping).", nameof(q));
        var gate = logForget ?? empty(0, dtype: ScalarType.Float32, device: q.device);
        return Function.apply(q, k, v, gate, logForget is not null, window, s, host ?? CudaKernelHost.Shared, poisonOutputs, skipMargin,
            skipCounter ?? empty(0, dtype: ScalarType.Int32, device: q.device));
    }

    /// <summary>The kernel's entry point in the source: <c>pn_attention_{forward|backward}_{bf16|fp16}_d{D}</c>.</summary>
    internal static string EntryName(bool backward, ScalarType dtype, long headDim) =>
        $"pn_attention_{(backward ? "backward" : "forward")}_{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")}_d{headDim}";

    /// <summary>The skip-statistics kernel's entry point: <c>pn_attention_skipstats_{bf16|fp16}_d{D}</c>.</summary>
    internal static string SkipStatisticsEntryName(ScalarType dtype, long headDim) =>
        $"pn_attention_skipstats_{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")}_d{headDim}";

    /// <summary>The backward's row-term kernel (Δ = rowsum(dO ∘ O)): <c>pn_attention_delta_{bf16|fp16}_d{D}</c>.</summary>
    internal static string DeltaEntryName(ScalarType dtype, long headDim) =>
        $"pn_attention_delta_{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")}_d{headDim}";

    /// <summary>Every entry point the source must define: forward, backward, Δ and skip statistics × bf16 and fp16 ×
    /// <see cref="HeadDims"/>.</summary>
    internal static IEnumerable<string> EntryNames() =>
        (from backward in new[] { false, true }
         from dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 }
         from d in HeadDims
         select EntryName(backward, dtype, d))
        .Concat(from dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 } from d in HeadDims select SkipStatisticsEntryName(dtype, d))
        .Concat(from dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 } from d in HeadDims select DeltaEntryName(dtype, d));

    static int DeviceIndex(Tensor q) => Math.Max(0, (int)q.device.index);

    static IntPtr Pointer(Tensor? x, string name) => x is null ? IntPtr.Zero : TensorPointers.Of(x, name);

    /// <summary>What block skipping bounds a block's logits with: ‖q_i‖ and the diagonal logit scale·q_i·k_i per row
    /// <c>[B·H, T]</c>, and per block of 64 keys the largest ‖k_j‖ and the smallest c_j <c>[B·H, ⌈T/64⌉]</c>; float32,
    /// from one pass of the skip-statistics kernel over q and k.</summary>
    sealed record SkipStatistics(Tensor QueryNorm, Tensor Diagonal, Tensor KeyNormMax, Tensor CumMin)
    {
        public static SkipStatistics Of(Tensor q, Tensor k, Tensor cum, double scale, CudaKernelHost host)
        {
            long bh = q.shape[0] * q.shape[1], t = q.shape[2], blocks = (t + Tile - 1) / Tile;
            var rows = empty(new[] { bh, t }, dtype: ScalarType.Float32, device: q.device);
            var stats = new SkipStatistics(rows, empty_like(rows), empty(new[] { bh, blocks }, dtype: ScalarType.Float32, device: q.device),
                empty(new[] { bh, blocks }, dtype: ScalarType.Float32, device: q.device));
            host.Launch(SourceName, SkipStatisticsEntryName(q.dtype, q.shape[3]), DeviceIndex(q), ((int)blocks, (int)bh, 1), Tile, 0,
                TensorPointers.Of(q, "q"), TensorPointers.Of(k, "k"), TensorPointers.Of(cum, "cum"), TensorPointers.Of(stats.QueryNorm, "queryNorm"),
                TensorPointers.Of(stats.Diagonal, "diagonal"), TensorPointers.Of(stats.KeyNormMax, "keyNormMax"), TensorPointers.Of(stats.CumMin, "cumMin"),
                (int)t, (float)scale);
            return stats;
        }
    }

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "FusedAttention";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            Tensor q = ((Tensor)vars[0]).contiguous(), k = ((Tensor)vars[1]).contiguous(), v = ((Tensor)vars[2]).contiguous(), gate = (Tensor)vars[3];
            bool gated = (bool)vars[4];
            int window = (int)vars[5];
            double scale = (double)vars[6];
            var host = (CudaKernelHost)vars[7];
            bool poison = (bool)vars[8];
            double margin = (double)vars[9];
            var counter = (Tensor)vars[10];
            long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
            using var scope = NewDisposeScope();
            Tensor? cum;
            using (no_grad()) cum = gated ? gate.to(ScalarType.Float32).cumsum(-1).contiguous() : null;   // [B, H, T]
            var skip = cum is not null && double.IsFinite(margin) && t > Tile ? SkipStatistics.Of(q, k, cum, scale, host) : null;   // one block: nothing to skip
            var o = empty_like(q);
            var lse = empty(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device);           // log₂-domain log-sum-exp
            if (poison) { o.fill_(double.NaN); lse.fill_(double.NaN); }
            int queryTile = ForwardQueryTile(d);
            host.Launch(SourceName, EntryName(false, q.dtype, d), DeviceIndex(q), ((int)(b * h), (int)((t + queryTile - 1) / queryTile), 1),
                Threads, ForwardSharedBytes(d),
                TensorPointers.Of(q, "q"), TensorPointers.Of(k, "k"), TensorPointers.Of(v, "v"), cum is null ? IntPtr.Zero : TensorPointers.Of(cum, "cum"),
                TensorPointers.Of(o, "o"), TensorPointers.Of(lse, "lse"), (int)t, window, (float)scale,
                Pointer(skip?.QueryNorm, "queryNorm"), Pointer(skip?.Diagonal, "diagonal"), Pointer(skip?.KeyNormMax, "keyNormMax"),
                Pointer(skip?.CumMin, "cumMin"), (float)margin, Pointer(counter.numel() > 0 ? counter : null, "skipCounter"));
            var none = empty(0, device: q.device);
            var saved = new List<Tensor> { q, k, v, (cum ?? empty(0, device: q.device)).MoveToOuterDisposeScope(), o.detach().MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope(), gate,
                (skip?.QueryNorm ?? none).MoveToOuterDisposeScope(), (skip?.KeyNormMax ?? none).MoveToOuterDisposeScope(), (skip?.CumMin ?? none).MoveToOuterDisposeScope(), counter };
            ctx.save_for_backward(saved);
            ctx.save_data("margin", margin);
            ctx.save_data("gated", gated);
            ctx.save_data("window", window);
            ctx.save_data("scale", scale);
            ctx.save_data("host", host);
            ctx.save_data("poison", poison);
            return o.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            Tensor q = saved[0], k = saved[1], v = saved[2], cum = saved[3], o = saved[4], lse = saved[5], gate = saved[6];
            Tensor queryNorm = saved[7], keyNormMax = saved[8], cumMin = saved[9], counter = saved[10];
            double margin = (double)ctx.get_data("margin");
            bool skipping = queryNorm.numel() > 0;
            bool gated = (bool)ctx.get_data("gated");
            int window = (int)ctx.get_data("window");
            double scale = (double)ctx.get_data("scale");
            var host = (CudaKernelHost)ctx.get_data("host");
            bool poison = (bool)ctx.get_data("poison");
            long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var dO = gradOutput.to(q.dtype).contiguous();
            var delta = empty(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device);              // Σ_d dO·O [B, H, T]
            if (poison) delta.fill_(double.NaN);
            int rows = (int)(b * h * t);
            host.Launch(SourceName, DeltaEntryName(q.dtype, d), DeviceIndex(q), ((rows + 7) / 8, 1, 1), 256, 0,
                TensorPointers.Of(dO, "dO"), TensorPointers.Of(o, "o"), TensorPointers.Of(delta, "delta"), rows);
            var dqAccumulator = zeros(q.shape, dtype: ScalarType.Float32, device: q.device);
            var dk = empty_like(k);
            var dv = empty_like(v);
            Tensor? dcQueries = gated ? zeros(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device) : null;
            Tensor? dcKeys = gated ? empty(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device) : null;
            if (poison) { dk.fill_(double.NaN); dv.fill_(double.NaN); dcKeys?.fill_(double.NaN); }
            host.Launch(SourceName, EntryName(true, q.dtype, d), DeviceIndex(q), ((int)(b * h), (int)((t + Tile - 1) / Tile), 1),
                Threads, BackwardSharedBytes(d),
                TensorPointers.Of(q, "q"), TensorPointers.Of(k, "k"), TensorPointers.Of(v, "v"), gated ? TensorPointers.Of(cum, "cum") : IntPtr.Zero,
                TensorPointers.Of(dO, "dO"), TensorPointers.Of(lse, "lse"), TensorPointers.Of(delta, "delta"), TensorPointers.Of(dqAccumulator, "dq"),
                TensorPointers.Of(dk, "dk"), TensorPointers.Of(dv, "dv"),
                dcQueries is null ? IntPtr.Zero : TensorPointers.Of(dcQueries, "dcQueries"), dcKeys is null ? IntPtr.Zero : TensorPointers.Of(dcKeys, "dcKeys"),
                (int)t, window, (float)scale, Pointer(skipping ? queryNorm : null, "queryNorm"), Pointer(skipping ? keyNormMax : null, "keyNormMax"),
                Pointer(skipping ? cumMin : null, "cumMin"), (float)margin, Pointer(counter.numel() > 0 ? counter.narrow(0, 1, 1) : null, "skipCounter"));
            // c_t = Σ_{l ≤ t} log f_l, so d log f_l = Σ_{t ≥ l} dc_t.
            Tensor? dLogForget = gated ? (dcQueries! + dcKeys!).flip(-1).cumsum(-1).flip(-1).to(gate.dtype) : null;
            var grads = new Tensor?[]
            {
                dqAccumulator.to(q.dtype).MoveToOuterDisposeScope(), dk.MoveToOuterDisposeScope(), dv.MoveToOuterDisposeScope(),
                dLogForget?.MoveToOuterDisposeScope(), null, null, null, null, null, null, null,
            };
            return CustomGradients.Return(grads, saved.Append(gradOutput));
        }
    }
}
