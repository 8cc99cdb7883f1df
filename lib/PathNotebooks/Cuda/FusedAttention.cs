using PathNotebooks.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Cuda;

/// <summary>
/// Causal softmax attention in one fused CUDA kernel per pass (<c>Cuda/Sources/flash_attention.cu</c>), with two
/// optional terms of the kit's mixers: FoX's forget-gate bias <c>c_i − c_j</c> (c = cumsum log f, added unscaled to
/// the scaled logit, as <see cref="Forgetting.ForgettingAttentionNaive"/>) and a sliding window (key j visible from
/// query i when i − W &lt; j ≤ i, as <see cref="Softmax.SlidingWindowAttention"/>). FlashAttention-2 tiles of 64
/// queries × 64 keys on tensor cores (bf16 or fp16 inputs, float32 accumulation), an online softmax, no T×T tensor in
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

    /// <summary>Dynamic shared memory of the forward kernel: K and V tiles (64 × (D + 8) halves each) and 64 gate sums.</summary>
    public static int ForwardSharedBytes(long headDim) => (int)(2 * Tile * (headDim + 8) * 2 + Tile * 4);

    /// <summary>Dynamic shared memory of the backward kernel: K, V, Q and dO tiles, the dS tile and four rows of 64 floats.</summary>
    public static int BackwardSharedBytes(long headDim) => (int)((4 * Tile * (headDim + 8) + Tile * (Tile + 8)) * 2 + 4 * Tile * 4);

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
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <param name="host">the kernel host; null = <see cref="CudaKernelHost.Shared"/></param>
    /// <returns>O <c>[B, H, T, D]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor? logForget = null, int window = 0, double? scale = null,
        CudaKernelHost? host = null) => Run(q, k, v, logForget, window, scale, host, poisonOutputs: false);

    /// <summary>
    /// <see cref="Forward"/> with every output buffer (O, the log-sum-exp, dK, dV and the key part of d log f) filled
    /// with NaN before each kernel writes it: an element a kernel forgets to write shows up as NaN (the kernel check).
    /// </summary>
    internal static Tensor ForwardWithPoisonedOutputs(Tensor q, Tensor k, Tensor v, Tensor? logForget, int window, CudaKernelHost? host = null) =>
        Run(q, k, v, logForget, window, null, host, poisonOutputs: true);

    static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor? logForget, int window, double? scale, CudaKernelHost? host, bool poisonOutputs)
    {
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
        if (WhyNot(q, host) is { } why) throw new NotSupportedException($"FusedAttention: {why}.");
        if (b * h > 65535) throw new ArgumentException($"B·H = {b * h} exceeds the kernels' grid limit of 65 535.", nameof(q));
        double s = scale ?? 1.0 / Math.Sqrt(d);
        var gate = logForget ?? empty(0, dtype: ScalarType.Float32, device: q.device);
        return Function.apply(q, k, v, gate, logForget is not null, window, s, host ?? CudaKernelHost.Shared, poisonOutputs);
    }

    /// <summary>The kernel's entry point in the source: <c>pn_attention_{forward|backward}_{bf16|fp16}_d{D}</c>.</summary>
    internal static string EntryName(bool backward, ScalarType dtype, long headDim) =>
        $"pn_attention_{(backward ? "backward" : "forward")}_{(dtype == ScalarType.BFloat16 ? "bf16" : "fp16")}_d{headDim}";

    /// <summary>Every entry point the source must define (forward and backward × bf16 and fp16 × <see cref="HeadDims"/>).</summary>
    internal static IEnumerable<string> EntryNames() =>
        from backward in new[] { false, true }
        from dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 }
        from d in HeadDims
        select EntryName(backward, dtype, d);

    static int DeviceIndex(Tensor q) => Math.Max(0, (int)q.device.index);

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
            long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
            using var scope = NewDisposeScope();
            Tensor? cum;
            using (no_grad()) cum = gated ? gate.to(ScalarType.Float32).cumsum(-1).contiguous() : null;   // [B, H, T]
            var o = empty_like(q);
            var lse = empty(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device);           // log₂-domain log-sum-exp
            if (poison) { o.fill_(double.NaN); lse.fill_(double.NaN); }
            host.Launch(SourceName, EntryName(false, q.dtype, d), DeviceIndex(q), ((int)((t + Tile - 1) / Tile), (int)(b * h), 1),
                Threads, ForwardSharedBytes(d),
                TensorPointers.Of(q, "q"), TensorPointers.Of(k, "k"), TensorPointers.Of(v, "v"), cum is null ? IntPtr.Zero : TensorPointers.Of(cum, "cum"),
                TensorPointers.Of(o, "o"), TensorPointers.Of(lse, "lse"), (int)t, window, (float)scale);
            var saved = new List<Tensor> { q, k, v, (cum ?? empty(0, device: q.device)).MoveToOuterDisposeScope(), o.detach().MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope(), gate };
            ctx.save_for_backward(saved);
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
            bool gated = (bool)ctx.get_data("gated");
            int window = (int)ctx.get_data("window");
            double scale = (double)ctx.get_data("scale");
            var host = (CudaKernelHost)ctx.get_data("host");
            bool poison = (bool)ctx.get_data("poison");
            long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var dO = gradOutput.to(q.dtype).contiguous();
            var delta = (dO.to(ScalarType.Float32) * o.to(ScalarType.Float32)).sum(-1).contiguous();       // Σ_d dO·O [B, H, T]
            var dqAccumulator = zeros(q.shape, dtype: ScalarType.Float32, device: q.device);
            var dk = empty_like(k);
            var dv = empty_like(v);
            Tensor? dcQueries = gated ? zeros(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device) : null;
            Tensor? dcKeys = gated ? empty(new[] { b, h, t }, dtype: ScalarType.Float32, device: q.device) : null;
            if (poison) { dk.fill_(double.NaN); dv.fill_(double.NaN); dcKeys?.fill_(double.NaN); }
            host.Launch(SourceName, EntryName(true, q.dtype, d), DeviceIndex(q), ((int)((t + Tile - 1) / Tile), (int)(b * h), 1),
                Threads, BackwardSharedBytes(d),
                TensorPointers.Of(q, "q"), TensorPointers.Of(k, "k"), TensorPointers.Of(v, "v"), gated ? TensorPointers.Of(cum, "cum") : IntPtr.Zero,
                TensorPointers.Of(dO, "dO"), TensorPointers.Of(lse, "lse"), TensorPointers.Of(delta, "delta"), TensorPointers.Of(dqAccumulator, "dq"),
                TensorPointers.Of(dk, "dk"), TensorPointers.Of(dv, "dv"),
                dcQueries is null ? IntPtr.Zero : TensorPointers.Of(dcQueries, "dcQueries"), dcKeys is null ? IntPtr.Zero : TensorPointers.Of(dcKeys, "dcKeys"),
                (int)t, window, (float)scale);
            // c_t = Σ_{l ≤ t} log f_l, so d log f_l = Σ_{t ≥ l} dc_t.
            Tensor? dLogForget = gated ? (dcQueries! + dcKeys!).flip(-1).cumsum(-1).flip(-1).to(gate.dtype) : null;
            var grads = new Tensor?[]
            {
                dqAccumulator.to(q.dtype).MoveToOuterDisposeScope(), dk.MoveToOuterDisposeScope(), dv.MoveToOuterDisposeScope(),
                dLogForget?.MoveToOuterDisposeScope(), null, null, null, null, null,
            };
            return CustomGradients.Return(grads, saved.Append(gradOutput));
        }
    }
}
