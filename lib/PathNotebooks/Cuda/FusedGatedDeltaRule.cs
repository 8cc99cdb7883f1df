using static TorchSharp.torch;

namespace PathNotebooks.Cuda;

/// <summary>
/// The gated delta rule's chunked forward in three fused CUDA kernels (<c>Cuda/Sources/gated_delta_rule.cu</c>): the
/// same state recurrence as <see cref="DeltaNet.GatedDeltaRule"/>,
/// <c>S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ</c>, <c>o_t = scale · S_tᵀ q_t</c>, α = exp(g), with chunks of
/// 64 tokens:
/// <list type="number">
/// <item><b>prepare</b> (every chunk at once): the chunk-local cumulative sum γ of g, the UT matrix
/// <c>A = strictLower(diag(β) K Kᵀ ⊙ Γ)</c> and the triangular solve <c>(I + A)[W | U] = [diag(β) e^γ K | diag(β) V]</c>;</item>
/// <item><b>sweep</b> (chunk by chunk, one CTA per head and 32 value columns, the state in shared memory):
/// <c>V' = U − W S_n</c>, <c>S_{n+1} = e^{γ_C} S_n + (e^{γ_C − γ} ⊙ K)ᵀ V'</c>;</item>
/// <item><b>output</b> (every chunk at once): <c>O = scale · [(e^γ ⊙ Q) S_n + (Q Kᵀ ⊙ Γ, causal) V']</c>.</item>
/// </list>
/// Products run on tensor cores in TF32 with float32 accumulation; the solve, γ and the state are float32.
/// <para>Forward only: there is no backward kernel, so <see cref="Forward"/> refuses inputs that require gradients
/// while autograd is on. Layers call it for evaluation and prefill and train with the TorchSharp chunked form.</para>
/// <para>No domain check either (one device wait per call): the caller supplies unit keys, g ≤ 0 and β ∈ [0, 2], as
/// the Gated DeltaNet layer does by construction; <see cref="DeltaNet.GatedDeltaRule.Chunked"/> is the checked op.</para>
/// </summary>
public static class FusedGatedDeltaRule
{
    /// <summary>The embedded source holding the kernels.</summary>
    public const string SourceName = "gated_delta_rule.cu";

    /// <summary>The (Dk, Dv) pairs the kernels are instantiated for.</summary>
    public static IReadOnlyList<(long Dk, long Dv)> HeadDims { get; } = new (long, long)[] { (32, 32), (64, 64), (128, 128), (32, 64), (64, 128) };

    /// <summary>Tokens per chunk, fixed by the kernels.</summary>
    public const int ChunkSize = 64;

    const int Threads = 128, ValueSlice = 32;

    /// <summary>Dynamic shared memory of the prepare kernel: K, the 64×64 UT matrix, the right-hand sides [K | V], γ and β.</summary>
    public static int PrepareSharedBytes(long dk, long dv) => (int)(4 * (64 * (dk + 4) + 64 * 68 + 64 * (dk + dv + 8) + 128));

    /// <summary>Dynamic shared memory of the sweep kernel: double-buffered W, U slice, γ and raw K, the decayed K, the state slice.</summary>
    public static int SweepSharedBytes(long dk, ScalarType dtype) =>
        (int)(4 * (2 * 64 * (dk + 4) + 2 * 64 * 40 + 128 + 64 * (dk + 8) + dk * 40) + 2 * 64 * dk * ElementBytes(dtype));

    /// <summary>Dynamic shared memory of the output kernel: Q, K, the 64×64 scores, the start state, V' and γ.</summary>
    public static int OutputSharedBytes(long dk, long dv) => (int)(4 * (2 * 64 * (dk + 4) + 64 * 68 + dk * (dv + 8) + 64 * (dv + 8) + 64));

    static long ElementBytes(ScalarType dtype) => dtype == ScalarType.Float32 ? 4 : 2;

    /// <summary>
    /// Null when <see cref="Forward"/> can run q, k, v (device, dtype, head dimensions, kernel host), else the reason in
    /// words. Shapes beyond the head dimensions and gradients are not checked here; <see cref="Forward"/> checks them.
    /// </summary>
    public static string? WhyNot(Tensor q, Tensor v, CudaKernelHost? host = null) =>
        WhyNot(q.device_type, q.dtype, q.dim() == 4 ? q.shape[3] : -1, v.dim() == 4 ? v.shape[3] : -1, host);

    /// <summary><see cref="WhyNot(Tensor, Tensor, CudaKernelHost?)"/> from the device, dtype and head dimensions alone.</summary>
    public static string? WhyNot(TorchSharp.DeviceType device, ScalarType dtype, long dk, long dv, CudaKernelHost? host = null)
    {
        if (device != TorchSharp.DeviceType.CUDA) return $"the tensors are on {device}, the fused kernels run on CUDA";
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            return $"the dtype is {dtype}, the fused gated-delta-rule kernels take float32, bf16 or fp16";
        if (!HeadDims.Contains((dk, dv)))
            return $"(Dk, Dv) = ({dk}, {dv}): the fused gated-delta-rule kernels have {string.Join(", ", HeadDims.Select(p => $"({p.Dk}, {p.Dv})"))}";
        host ??= CudaKernelHost.Shared;
        if (!host.IsAvailable) return host.Status;
        int needed = Math.Max(Math.Max(PrepareSharedBytes(dk, dv), SweepSharedBytes(dk, dtype)), OutputSharedBytes(dk, dv));
        return host.MaxSharedBytesPerBlock is { } limit && needed > limit
            ? $"(Dk, Dv) = ({dk}, {dv}) needs {needed:N0} bytes of shared memory per block, this GPU allows {limit:N0}"
            : null;
    }

    /// <summary>The gated delta rule over a whole sequence, forward only.</summary>
    /// <param name="q">queries <c>[B, H, T, Dk]</c>, float32, bf16 or fp16</param>
    /// <param name="k">keys <c>[B, H, T, Dk]</c>, q's dtype, unit rows</param>
    /// <param name="v">values <c>[B, H, T, Dv]</c>, q's dtype; (Dk, Dv) one of <see cref="HeadDims"/></param>
    /// <param name="logDecay">g = log α <c>[B, H, T]</c>, ≤ 0 (any floating dtype; computed in float32)</param>
    /// <param name="beta">β <c>[B, H, T]</c> (any floating dtype; computed in float32)</param>
    /// <param name="initialState">S before the first token <c>[B, H, Dk, Dv]</c> (default zeros)</param>
    /// <param name="scale">read-out scale (default <c>1/√Dk</c>)</param>
    /// <param name="host">the kernel host; null = <see cref="CudaKernelHost.Shared"/></param>
    /// <returns>output <c>[B, H, T, Dv]</c> in q's dtype, and the state after the last token <c>[B, H, Dk, Dv]</c> (float32)</returns>
    public static (Tensor Output, Tensor FinalState) Forward(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        Tensor? initialState = null, double? scale = null, CudaKernelHost? host = null) =>
        Run(q, k, v, logDecay, beta, initialState, scale, host, poisonOutputs: false);

    /// <summary>
    /// <see cref="Forward"/> with the output, the final state and every work buffer filled with NaN before the kernels
    /// write them: an element a kernel forgets to write shows up as NaN (the kernel check).
    /// </summary>
    internal static (Tensor Output, Tensor FinalState) ForwardWithPoisonedOutputs(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        Tensor? initialState, CudaKernelHost? host = null) => Run(q, k, v, logDecay, beta, initialState, null, host, poisonOutputs: true);

    static (Tensor Output, Tensor FinalState) Run(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState,
        double? scale, CudaKernelHost? host, bool poisonOutputs)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, Dk]");
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3];
        if (t < 1) throw new ArgumentException($"q must have shape [B, H, T, Dk] with T ≥ 1, got {Shapes.Describe(q)}.", nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, Dk]", b, h, t, dk);
        Shapes.Rank(v, 4, nameof(v), "[B, H, T, Dv]");
        long dv = v.shape[3];
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", b, h, t, dv);
        Shapes.Exactly(logDecay, nameof(logDecay), "[B, H, T]", b, h, t);
        Shapes.Floating(logDecay, nameof(logDecay));
        Shapes.Exactly(beta, nameof(beta), "[B, H, T]", b, h, t);
        Shapes.Floating(beta, nameof(beta));
        if (initialState is not null)
        {
            Shapes.Exactly(initialState, nameof(initialState), "[B, H, Dk, Dv]", b, h, dk, dv);
            Shapes.Floating(initialState, nameof(initialState));
        }
        if (k.dtype != q.dtype || v.dtype != q.dtype) throw new ArgumentException($"k and v must have q's dtype {q.dtype}, got {k.dtype} and {v.dtype}.", nameof(k));
        static bool Same(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
        if (!Same(k, q) || !Same(v, q) || !Same(logDecay, q) || !Same(beta, q) || (initialState is not null && !Same(initialState, q)))
            throw new ArgumentException($"q, k, v, logDecay, beta and initialState must be on one device (q is on {q.device}).", nameof(k));
        if (WhyNot(q, v, host) is { } why) throw new NotSupportedException($"FusedGatedDeltaRule: {why}.");
        if (is_grad_enabled() && new[] { q, k, v, logDecay, beta, initialState }.Any(x => x is not null && x.requires_grad))
            throw new InvalidOperationException("FusedGatedDeltaRule has no backward kernel: call it under no_grad() (evaluation, prefill) "
                + "or use GatedDeltaRule.Chunked when gradients are needed.");
        if (b * h > 65535) throw new ArgumentException($"B·H = {b * h} exceeds the kernels' grid limit of 65 535.", nameof(q));
        host ??= CudaKernelHost.Shared;
        double s = scale ?? 1.0 / Math.Sqrt(dk);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long bh = b * h, chunks = (t + ChunkSize - 1) / ChunkSize, padded = chunks * ChunkSize;
        int device = Math.Max(0, (int)q.device.index);
        // Contiguous clones when needed: the kernels read 16-byte rows (cp.async) from each tensor's first element.
        Tensor Flat(Tensor x, ScalarType dtype, params long[] shape) => Aligned(x.to(dtype).contiguous()).view(shape);
        var qf = Flat(q, q.dtype, bh, t, dk);
        var kf = Flat(k, q.dtype, bh, t, dk);
        var vf = Flat(v, q.dtype, bh, t, dv);
        var g = Flat(logDecay, ScalarType.Float32, bh, t);
        var bt = Flat(beta, ScalarType.Float32, bh, t);
        var h0 = initialState is null ? null : Flat(initialState, ScalarType.Float32, bh, dk, dv);
        Tensor Work(params long[] shape) => poisonOutputs
            ? full(shape, double.NaN, dtype: ScalarType.Float32, device: q.device)
            : empty(shape, dtype: ScalarType.Float32, device: q.device);
        var w = Work(bh, padded, dk);
        var u = Work(bh, padded, dv);
        var gamma = Work(bh, padded);
        var vnew = Work(bh, padded, dv);
        var starts = Work(bh, chunks, dk, dv);
        var final = Work(bh, dk, dv);
        var o = poisonOutputs ? full(new[] { bh, t, dv }, double.NaN, dtype: q.dtype, device: q.device) : empty(new[] { bh, t, dv }, dtype: q.dtype, device: q.device);

        IntPtr P(Tensor x, string name) => TensorPointers.Of(x, name);
        host.Launch(SourceName, EntryName("prepare", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, PrepareSharedBytes(dk, dv),
            P(kf, "k"), P(vf, "v"), P(g, "logDecay"), P(bt, "beta"), P(w, "w"), P(u, "u"), P(gamma, "gamma"), (int)t);
        host.Launch(SourceName, EntryName("sweep", q.dtype, dk, dv), device, ((int)(dv / ValueSlice), (int)bh, 1), Threads, SweepSharedBytes(dk, q.dtype),
            P(kf, "k"), P(w, "w"), P(u, "u"), P(gamma, "gamma"), h0 is null ? IntPtr.Zero : P(h0, "initialState"),
            P(vnew, "vnew"), P(starts, "starts"), P(final, "finalState"), (int)t);
        host.Launch(SourceName, EntryName("output", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, OutputSharedBytes(dk, dv),
            P(qf, "q"), P(kf, "k"), P(gamma, "gamma"), P(vnew, "vnew"), P(starts, "starts"), P(o, "o"), (int)t, (float)s);
        return (o.view(b, h, t, dv).MoveToOuterDisposeScope(), final.view(b, h, dk, dv).MoveToOuterDisposeScope());
    }

    /// <summary>A tensor whose first element sits on a 16-byte boundary (a copy when a view starts mid-storage).</summary>
    static Tensor Aligned(Tensor x) => ((long)TensorPointers.Of(x, "input") & 15) == 0 ? x : x.clone();

    /// <summary>The kernel's entry point in the source: <c>pn_gdn_{prepare|sweep|output}_{f32|bf16|fp16}_k{Dk}_v{Dv}</c>.</summary>
    internal static string EntryName(string stage, ScalarType dtype, long dk, long dv) => $"pn_gdn_{stage}_{DTypeTag(dtype)}_k{dk}_v{dv}";

    /// <summary>The kernels' name for an input dtype: "f32", "bf16" or "fp16".</summary>
    internal static string DTypeTag(ScalarType dtype) =>
        dtype switch { ScalarType.Float32 => "f32", ScalarType.BFloat16 => "bf16", ScalarType.Float16 => "fp16", _ => dtype.ToString() };

    /// <summary>Every entry point the source must define (3 stages × 3 dtypes × the head-dimension pairs).</summary>
    internal static IEnumerable<string> EntryNames() =>
        from stage in new[] { "prepare", "sweep", "output" }
        from dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 }
        from pair in HeadDims
        select EntryName(stage, dtype, pair.Dk, pair.Dv);
}
