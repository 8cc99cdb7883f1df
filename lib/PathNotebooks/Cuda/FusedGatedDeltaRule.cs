using PathNotebooks.Runtime;
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
/// <para>Training goes through <see cref="Output"/>, an autograd function whose backward runs three more kernels
/// (<b>dlocal</b> <c>Pᵀ dO</c> per chunk, <b>dsweep</b> the state gradient through the chunks in reverse, <b>dchunk</b> every
/// other gradient per chunk; <see cref="DeltaNet.GatedDeltaRuleGradients"/> is the same algorithm in libtorch ops) for the
/// pairs in <see cref="BackwardHeadDims"/>. <see cref="Forward"/> (output and final state) refuses inputs that require
/// gradients while autograd is on.</para>
/// <para>No domain check either (one device wait per call): the caller supplies unit keys, g ≤ 0 and β ∈ [0, 2], as
/// the Gated DeltaNet layer does by construction; <see cref="DeltaNet.GatedDeltaRule.Chunked"/> is the checked op.</para>
/// </summary>
public static class FusedGatedDeltaRule
{
    /// <summary>The embedded source holding the kernels.</summary>
    public const string SourceName = "gated_delta_rule.cu";

    /// <summary>The (Dk, Dv) pairs the kernels are instantiated for.</summary>
    public static IReadOnlyList<(long Dk, long Dv)> HeadDims { get; } = new (long, long)[] { (32, 32), (64, 64), (128, 128), (32, 64), (64, 128) };

    /// <summary>The (Dk, Dv) pairs the backward kernels are instantiated for (<see cref="Output"/> with gradients).</summary>
    public static IReadOnlyList<(long Dk, long Dv)> BackwardHeadDims { get; } = new (long, long)[] { (32, 32), (64, 64), (32, 64) };

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

    /// <summary>Dynamic shared memory of the dlocal kernel: q, k, the 64×64 scores, dO and γ.</summary>
    public static int LocalGradientSharedBytes(long dk, long dv) => (int)(4 * (2 * 64 * (dk + 1) + 64 * 65 + 64 * (dv + 1) + 64));

    /// <summary>Dynamic shared memory of the dsweep kernel: decayed q and k, W, a 32-column slice of dO and dV', the dS slice.</summary>
    public static int SweepGradientSharedBytes(long dk) => (int)(4 * (3 * 64 * (dk + 1) + 2 * 64 * 33 + dk * 33));

    /// <summary>Dynamic shared memory of the dchunk kernel: q, k, dK, v, dO, V', [dW | dV'], S, dS', two 64×64 matrices, row vectors.</summary>
    public static int ChunkGradientSharedBytes(long dk, long dv) =>
        (int)(4 * (3 * 64 * (dk + 1) + 3 * 64 * (dv + 1) + 64 * (dk + dv + 1) + 2 * dk * (dv + 1) + 2 * 64 * 65 + 4 * 64 + Threads));

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

    /// <summary>
    /// Null when <see cref="Output"/> can also run the backward for q, v (<see cref="WhyNot(Tensor, Tensor, CudaKernelHost?)"/>,
    /// plus the backward's head dimensions and shared memory), else the reason in words.
    /// </summary>
    public static string? WhyNotBackward(Tensor q, Tensor v, CudaKernelHost? host = null)
    {
        long dk = q.dim() == 4 ? q.shape[3] : -1, dv = v.dim() == 4 ? v.shape[3] : -1;
        if (WhyNot(q.device_type, q.dtype, dk, dv, host) is { } why) return why;
        if (!BackwardHeadDims.Contains((dk, dv)))
            return $"(Dk, Dv) = ({dk}, {dv}): the gated-delta-rule backward kernels have {string.Join(", ", BackwardHeadDims.Select(p => $"({p.Dk}, {p.Dv})"))}";
        host ??= CudaKernelHost.Shared;
        int needed = Math.Max(Math.Max(LocalGradientSharedBytes(dk, dv), SweepGradientSharedBytes(dk)), ChunkGradientSharedBytes(dk, dv));
        return host.MaxSharedBytesPerBlock is { } limit && needed > limit
            ? $"the backward for (Dk, Dv) = ({dk}, {dv}) needs {needed:N0} bytes of shared memory per block, this GPU allows {limit:N0}"
            : null;
    }

    /// <summary>
    /// The rule's output as an autograd function: gradients flow to q, k, v, logDecay, beta and initialState (the final
    /// state is not returned; use <see cref="Forward"/> without gradients for it). Without gradients it runs the forward
    /// kernels alone; with them, (Dk, Dv) must be one of <see cref="BackwardHeadDims"/> (<see cref="WhyNotBackward"/>).
    /// Gradients come back in each input's dtype, computed in float32.
    /// </summary>
    /// <inheritdoc cref="Forward" path="/param"/>
    /// <returns>output <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Output(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState = null, double? scale = null,
        CudaKernelHost? host = null) => Differentiable(q, k, v, logDecay, beta, initialState, scale, host, poisonOutputs: false);

    /// <summary><see cref="Output"/> with the outputs, gradients and every work buffer filled with NaN before the kernels write them.</summary>
    internal static Tensor OutputWithPoisonedBuffers(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState,
        CudaKernelHost? host = null) => Differentiable(q, k, v, logDecay, beta, initialState, null, host, poisonOutputs: true);

    static Tensor Differentiable(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState, double? scale,
        CudaKernelHost? host, bool poisonOutputs)
    {
        Check(q, k, v, logDecay, beta, initialState, host);
        bool needsGradient = is_grad_enabled() && new[] { q, k, v, logDecay, beta, initialState }.Any(x => x is not null && x.requires_grad);
        if (!needsGradient) return Run(q, k, v, logDecay, beta, initialState, scale, host, poisonOutputs).Output;
        if (WhyNotBackward(q, v, host) is { } why) throw new NotSupportedException($"FusedGatedDeltaRule backward: {why}.");
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        var h0 = initialState ?? empty(0, dtype: ScalarType.Float32, device: q.device);
        return Function.apply(q, k, v, logDecay, beta, h0, initialState is not null, s, host ?? CudaKernelHost.Shared, poisonOutputs);
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
        Check(q, k, v, logDecay, beta, initialState, host);
        if (is_grad_enabled() && new[] { q, k, v, logDecay, beta, initialState }.Any(x => x is not null && x.requires_grad))
            throw new InvalidOperationException("FusedGatedDeltaRule.Forward returns the final state, which has no backward: call it under no_grad() "
                + "(evaluation, prefill), or use FusedGatedDeltaRule.Output (the output alone, differentiable) when gradients are needed.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var f = Launch(q, k, v, logDecay, beta, initialState, scale ?? 1.0 / Math.Sqrt(q.shape[3]), host ?? CudaKernelHost.Shared, poisonOutputs);
        return (f.Output.MoveToOuterDisposeScope(), f.FinalState.MoveToOuterDisposeScope());
    }

    static void Check(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState, CudaKernelHost? host)
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
        if (b * h > 65535) throw new ArgumentException($"B·H = {b * h} exceeds the kernels' grid limit of 65 535.", nameof(q));
    }

    /// <summary>What the forward kernels leave: the output, the final state, and the work buffers the backward reads.</summary>
    sealed record ForwardBuffers(Tensor Output, Tensor FinalState, Tensor Q, Tensor K, Tensor V, Tensor Beta, Tensor W, Tensor U,
        Tensor Gamma, Tensor VNew, Tensor Starts);

    /// <summary>The three forward kernels (no checks, no autograd); every tensor is created in the caller's dispose scope.</summary>
    static ForwardBuffers Launch(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState, double scale,
        CudaKernelHost host, bool poisonOutputs)
    {
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3], dv = v.shape[3];
        long bh = b * h, chunks = (t + ChunkSize - 1) / ChunkSize, padded = chunks * ChunkSize;
        int device = Math.Max(0, (int)q.device.index);
        // Contiguous clones when needed: the kernels read 16-byte rows (cp.async) from each tensor's first element.
        Tensor Flat(Tensor x, ScalarType dtype, params long[] shape) => Aligned(x.detach().to(dtype).contiguous()).view(shape);
        var qf = Flat(q, q.dtype, bh, t, dk);
        var kf = Flat(k, q.dtype, bh, t, dk);
        var vf = Flat(v, q.dtype, bh, t, dv);
        var g = Flat(logDecay, ScalarType.Float32, bh, t);
        var bt = Flat(beta, ScalarType.Float32, bh, t);
        var h0 = initialState is null ? null : Flat(initialState, ScalarType.Float32, bh, dk, dv);
        Tensor Work(params long[] shape) => Buffer(shape, ScalarType.Float32, q.device, poisonOutputs);
        var w = Work(bh, padded, dk);
        var u = Work(bh, padded, dv);
        var gamma = Work(bh, padded);
        var vnew = Work(bh, padded, dv);
        var starts = Work(bh, chunks, dk, dv);
        var final = Work(bh, dk, dv);
        var o = Buffer(new[] { bh, t, dv }, q.dtype, q.device, poisonOutputs);

        IntPtr P(Tensor x, string name) => TensorPointers.Of(x, name);
        host.Launch(SourceName, EntryName("prepare", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, PrepareSharedBytes(dk, dv),
            P(kf, "k"), P(vf, "v"), P(g, "logDecay"), P(bt, "beta"), P(w, "w"), P(u, "u"), P(gamma, "gamma"), (int)t);
        host.Launch(SourceName, EntryName("sweep", q.dtype, dk, dv), device, ((int)(dv / ValueSlice), (int)bh, 1), Threads, SweepSharedBytes(dk, q.dtype),
            P(kf, "k"), P(w, "w"), P(u, "u"), P(gamma, "gamma"), h0 is null ? IntPtr.Zero : P(h0, "initialState"),
            P(vnew, "vnew"), P(starts, "starts"), P(final, "finalState"), (int)t);
        host.Launch(SourceName, EntryName("output", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, OutputSharedBytes(dk, dv),
            P(qf, "q"), P(kf, "k"), P(gamma, "gamma"), P(vnew, "vnew"), P(starts, "starts"), P(o, "o"), (int)t, (float)scale);
        return new ForwardBuffers(o.view(b, h, t, dv), final.view(b, h, dk, dv), qf, kf, vf, bt, w, u, gamma, vnew, starts);
    }

    /// <summary>An uninitialised tensor, or one full of NaN when poisoning (the kernel check).</summary>
    static Tensor Buffer(long[] shape, ScalarType dtype, Device device, bool poison) =>
        poison ? full(shape, double.NaN, dtype: dtype, device: device) : empty(shape, dtype: dtype, device: device);

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "FusedGatedDeltaRule";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            Tensor q = (Tensor)vars[0], k = (Tensor)vars[1], v = (Tensor)vars[2], logDecay = (Tensor)vars[3], beta = (Tensor)vars[4], h0 = (Tensor)vars[5];
            bool hasInitial = (bool)vars[6];
            double scale = (double)vars[7];
            var host = (CudaKernelHost)vars[8];
            bool poison = (bool)vars[9];
            using var scope = NewDisposeScope();
            var f = Launch(q, k, v, logDecay, beta, hasInitial ? h0 : null, scale, host, poison);
            ctx.save_for_backward(new List<Tensor> { f.Q, f.K, f.V, f.Beta, f.W, f.U, f.Gamma, f.VNew, f.Starts, q, k, v, logDecay, beta, h0 }
                .Select(x => x.MoveToOuterDisposeScope()).ToList());
            ctx.save_data("hasInitial", hasInitial);
            ctx.save_data("scale", scale);
            ctx.save_data("host", host);
            ctx.save_data("poison", poison);
            return f.Output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            Tensor qf = saved[0], kf = saved[1], vf = saved[2], bt = saved[3], w = saved[4], u = saved[5], gamma = saved[6], vnew = saved[7],
                starts = saved[8], q = saved[9], k = saved[10], v = saved[11], logDecay = saved[12], beta = saved[13], h0 = saved[14];
            bool hasInitial = (bool)ctx.get_data("hasInitial");
            double scale = (double)ctx.get_data("scale");
            var host = (CudaKernelHost)ctx.get_data("host");
            bool poison = (bool)ctx.get_data("poison");
            long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3], dv = v.shape[3];
            long bh = b * h, chunks = (t + ChunkSize - 1) / ChunkSize, padded = chunks * ChunkSize;
            int device = Math.Max(0, (int)q.device.index);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var dO = Aligned(gradOutput.to(q.dtype).contiguous()).view(bh, t, dv);
            Tensor Work(params long[] shape) => Buffer(shape, ScalarType.Float32, q.device, poison);
            var dvnew = Work(bh, padded, dv);
            var dnext = Work(bh, chunks, dk, dv);
            var dh0 = hasInitial ? Work(bh, dk, dv) : null;
            var dq = Work(bh, t, dk);
            var dkGrad = Work(bh, t, dk);
            var dvGrad = Work(bh, t, dv);
            var dg = Work(bh, t);
            var dbeta = Work(bh, t);
            IntPtr P(Tensor x, string name) => TensorPointers.Of(x, name);
            host.Launch(SourceName, EntryName("dlocal", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, LocalGradientSharedBytes(dk, dv),
                P(qf, "q"), P(kf, "k"), P(dO, "dO"), P(gamma, "gamma"), P(dvnew, "dvnew"), (int)t, (float)scale);
            host.Launch(SourceName, EntryName("dsweep", q.dtype, dk, dv), device, ((int)(dv / ValueSlice), (int)bh, 1), Threads, SweepGradientSharedBytes(dk),
                P(qf, "q"), P(kf, "k"), P(dO, "dO"), P(w, "w"), P(gamma, "gamma"), P(dvnew, "dvnew"), P(dnext, "dnext"),
                dh0 is null ? IntPtr.Zero : P(dh0, "dh0"), (int)t, (float)scale);
            host.Launch(SourceName, EntryName("dchunk", q.dtype, dk, dv), device, ((int)chunks, (int)bh, 1), Threads, ChunkGradientSharedBytes(dk, dv),
                P(qf, "q"), P(kf, "k"), P(vf, "v"), P(bt, "beta"), P(dO, "dO"), P(w, "w"), P(u, "u"), P(gamma, "gamma"), P(vnew, "vnew"),
                P(dvnew, "dvnew"), P(starts, "starts"), P(dnext, "dnext"), P(dq, "dq"), P(dkGrad, "dk"), P(dvGrad, "dv"), P(dg, "dg"),
                P(dbeta, "dbeta"), (int)t, (float)scale);
            Tensor? Grad(Tensor gradient, Tensor input) => input.requires_grad ? gradient.view(input.shape).to(input.dtype) : null;
            var grads = new Tensor?[]
            {
                Grad(dq, q)?.MoveToOuterDisposeScope(), Grad(dkGrad, k)?.MoveToOuterDisposeScope(), Grad(dvGrad, v)?.MoveToOuterDisposeScope(),
                Grad(dg, logDecay)?.MoveToOuterDisposeScope(), Grad(dbeta, beta)?.MoveToOuterDisposeScope(),
                hasInitial && dh0 is not null ? Grad(dh0, h0)?.MoveToOuterDisposeScope() : null, null, null, null, null,
            };
            return CustomGradients.Return(grads, saved.Append(gradOutput));
        }
    }

    /// <summary>A tensor whose first element sits on a 16-byte boundary (a copy when a view starts mid-storage).</summary>
    static Tensor Aligned(Tensor x) => ((long)TensorPointers.Of(x, "input") & 15) == 0 ? x : x.clone();

    /// <summary>The kernel's entry point in the source: <c>pn_gdn_{stage}_{f32|bf16|fp16}_k{Dk}_v{Dv}</c>, stage one of
    /// prepare, sweep, output (forward) and dlocal, dsweep, dchunk (backward).</summary>
    internal static string EntryName(string stage, ScalarType dtype, long dk, long dv) => $"pn_gdn_{stage}_{DTypeTag(dtype)}_k{dk}_v{dv}";

    /// <summary>The kernels' name for an input dtype: "f32", "bf16" or "fp16".</summary>
    internal static string DTypeTag(ScalarType dtype) =>
        dtype switch { ScalarType.Float32 => "f32", ScalarType.BFloat16 => "bf16", ScalarType.Float16 => "fp16", _ => dtype.ToString() };

    /// <summary>Every entry point the source must define: 3 forward stages × 3 dtypes × <see cref="HeadDims"/>, and 3
    /// backward stages × 3 dtypes × <see cref="BackwardHeadDims"/>.</summary>
    internal static IEnumerable<string> EntryNames()
    {
        var dtypes = new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 };
        return (from stage in new[] { "prepare", "sweep", "output" } from dtype in dtypes from pair in HeadDims select EntryName(stage, dtype, pair.Dk, pair.Dv))
            .Concat(from stage in new[] { "dlocal", "dsweep", "dchunk" } from dtype in dtypes from pair in BackwardHeadDims
                    select EntryName(stage, dtype, pair.Dk, pair.Dv));
    }
}
