using PathNotebooks.PaTH;
using PathNotebooks.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.DeltaNet;

/// <summary>
/// The gated delta rule on heads (Gated DeltaNet; Yang, Kautz, Hatamizadeh, ICLR 2025; see docs/gated-deltanet.md).
/// Per head a matrix memory <c>S ∈ R^{Dk×Dv}</c> (keys index rows) is updated token by token:
/// <para><c>S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ</c>, read out by <c>o_t = scale · S_tᵀ q_t</c>,</para>
/// one step of gradient descent on <c>½‖Sᵀk_t − v_t‖²</c> with learning rate β_t, after shrinking the memory by the
/// decay α_t = exp(g_t). α = 1 is plain DeltaNet. Three forms that agree: <see cref="Recurrent"/> (the token loop, the
/// oracle), <see cref="Chunked"/> (the chunkwise WY/UT form for training) and <see cref="Step"/> (one decoding step).
/// <para>Inputs: q, k <c>[B, H, T, Dk]</c> (L2-normalised by the caller; the op does not normalise), v
/// <c>[B, H, T, Dv]</c>, log decay g = log α <c>[B, H, T]</c> (≤ 0), β <c>[B, H, T]</c> (in (0, 1); (0, 2) gives the
/// transition I − βkkᵀ a negative eigenvalue, which every form supports). Everything is computed in float32 for
/// half-precision inputs (float64 stays float64); outputs come back in q's dtype, states in the computing dtype.</para>
/// </summary>
public static class GatedDeltaRule
{
    /// <summary>The usual chunk size of <see cref="Chunked"/>.</summary>
    public const int DefaultChunkSize = 64;

    /// <summary>
    /// The usual number of chunks <see cref="Chunked"/> composes into one affine map before the sequential loop. The loop
    /// costs about <c>2(G − 1) + N/G + 2(G − 1)</c> dependent kernel launches instead of N (pairs); that is flat near its
    /// minimum <c>G ≈ √(N/2)</c>, which is 4–8 for the N = 32…128 chunks of training lengths, and every extra member adds
    /// a little arithmetic (the prefix products are Dk×(Dk+Dv) instead of Dk×Dv). 8 keeps the loop at N/8 steps where
    /// launches dominate (long T on a GPU).
    /// </summary>
    public const int DefaultChunksPerGroup = 8;

    /// <summary>
    /// The token recurrence, one step per position: the reference every other form is tested against (run it in
    /// float64). Differentiable by autograd; T sequential steps, so meant for checks and short sequences.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, Dk]</c></param>
    /// <param name="k">keys <c>[B, H, T, Dk]</c>, unit rows</param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logDecay">g = log α <c>[B, H, T]</c>, ≤ 0</param>
    /// <param name="beta">β <c>[B, H, T]</c></param>
    /// <param name="initialState">S before the first token <c>[B, H, Dk, Dv]</c> (default zeros)</param>
    /// <param name="scale">read-out scale (default <c>1/√Dk</c>)</param>
    /// <returns>output <c>[B, H, T, Dv]</c> in q's dtype, and the state after the last token <c>[B, H, Dk, Dv]</c></returns>
    public static (Tensor Output, Tensor FinalState) Recurrent(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        Tensor? initialState = null, double? scale = null)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        CheckDomain(q, k, logDecay, beta);
        using var scope = NewDisposeScope();
        var (outputs, state) = Loop(q, k, v, logDecay, beta, initialState, scale, states: null);
        return (stack(outputs, 2).to(q.dtype).MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Every state of the recurrence: entry t is <c>S_t</c>, the memory after token t. For pictures of what the memory
    /// keeps (e.g. how much of an early key–value pair survives: <c>S_tᵀ k_j</c> against <c>v_j</c>). Holds
    /// <c>B·H·T·Dk·Dv</c> numbers, so only for short sequences. Same inputs as <see cref="Recurrent"/>.
    /// </summary>
    /// <returns><c>[B, H, T, Dk, Dv]</c> in the computing dtype (float32 for half-precision q, float64 kept)</returns>
    public static Tensor States(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState = null)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        CheckDomain(q, k, logDecay, beta);
        using var scope = NewDisposeScope();
        var states = new List<Tensor>();
        Loop(q, k, v, logDecay, beta, initialState, scale: null, states);
        return stack(states, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decoding step: <c>S ← α S</c>, <c>e = v − Sᵀk</c> (what the decayed memory gets wrong about this key),
    /// <c>S ← S + β k eᵀ</c>, <c>o = scale · Sᵀ q</c>.
    /// </summary>
    /// <param name="state">S before the token <c>[B, H, Dk, Dv]</c>; its dtype is the computing dtype</param>
    /// <param name="q">query <c>[B, H, Dk]</c></param>
    /// <param name="k">key <c>[B, H, Dk]</c>, unit rows</param>
    /// <param name="v">value <c>[B, H, Dv]</c></param>
    /// <param name="logDecay">g = log α <c>[B, H]</c></param>
    /// <param name="beta">β <c>[B, H]</c></param>
    /// <param name="scale">read-out scale (default <c>1/√Dk</c>)</param>
    /// <returns>output <c>[B, H, Dv]</c> in q's dtype, and the new state (state's dtype)</returns>
    public static (Tensor Output, Tensor State) Step(Tensor state, Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        double? scale = null)
    {
        CheckDomain(q, k, logDecay, beta);
        return StepUnchecked(state, q, k, v, logDecay, beta, scale);
    }

    /// <summary><see cref="Step"/> with the shape checks only: for the layer, whose gates lie in the domain by construction.</summary>
    internal static (Tensor Output, Tensor State) StepUnchecked(Tensor state, Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        double? scale)
    {
        Shapes.Rank(state, 4, nameof(state), "[B, H, Dk, Dv]");
        Shapes.Floating(state, nameof(state));
        long b = state.shape[0], h = state.shape[1], dk = state.shape[2], dv = state.shape[3];
        Shapes.Exactly(q, nameof(q), "[B, H, Dk]", b, h, dk);
        Shapes.Exactly(k, nameof(k), "[B, H, Dk]", b, h, dk);
        Shapes.Exactly(v, nameof(v), "[B, H, Dv]", b, h, dv);
        Shapes.Exactly(logDecay, nameof(logDecay), "[B, H]", b, h);
        Shapes.Exactly(beta, nameof(beta), "[B, H]", b, h);
        foreach (var (t, name) in new[] { (q, nameof(q)), (k, nameof(k)), (v, nameof(v)), (logDecay, nameof(logDecay)), (beta, nameof(beta)) })
            Shapes.Floating(t, name);
        Domain.SameDType(k, nameof(k), q, nameof(q));
        Domain.SameDType(v, nameof(v), q, nameof(q));
        using var scope = NewDisposeScope();
        var dtype = state.dtype;
        double sc = scale ?? 1.0 / Math.Sqrt(dk);
        var (o, s) = Update(state, sc * q.to(dtype), k.to(dtype), v.to(dtype), logDecay.to(dtype).exp(), beta.to(dtype));
        return (o.to(q.dtype).MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The chunkwise form (see docs/gated-deltanet.md, "Chunks"): within chunks of C tokens, with the chunk-local
    /// cumulative log decay γ and Γ_rs = exp(γ_r − γ_s) (r ≥ s, masked before the exponential),
    /// <para><c>A = strictLower(diag(β) (K Kᵀ) ⊙ Γ)</c>, <c>T = (I + A)⁻¹</c> (the UT transform of PaTH),
    /// <c>W̃ = T diag(β) (exp(γ) ⊙ K)</c>, <c>Ũ = T diag(β) V</c> (both by one matmul of T with the two right-hand sides
    /// side by side),</para>
    /// <para>so that chunk n maps the state at its start to <c>S_{n+1} = M_n S_n + B_n</c> with
    /// <c>M_n = exp(γ_C) I − K̃ᵀ W̃</c>, <c>B_n = K̃ᵀ Ũ</c>, <c>K̃ = exp(γ_C − γ) ⊙ K</c>. Everything except that
    /// recurrence is batched over all chunks; the recurrence is one batched matmul and an add per chunk (2·T/C sequential
    /// kernel launches if run chunk by chunk; here G consecutive chunks are first composed into one map, see
    /// <paramref name="chunksPerGroup"/>), and the outputs come afterwards from all chunk-start states at once:
    /// <c>O = (exp(γ) ⊙ Q) S_n + (QKᵀ ⊙ Γ) (Ũ − W̃ S_n)</c>.</para>
    /// Exact (tests pin it to <see cref="Recurrent"/> in float64), differentiable by autograd, any T (the last chunk is
    /// right-padded with k = v = q = 0, β = 0, g = 0: identity transitions that leave the state alone). A chunk larger
    /// than T shrinks to T.
    /// <para>Dtypes: half-precision inputs are computed in float32 (γ, β, the UT matrix, the states; on CUDA the
    /// float32 matmuls run as TF32), float64 stays float64; the output is cast to q's dtype.</para>
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, Dk]</c></param>
    /// <param name="k">keys <c>[B, H, T, Dk]</c>, unit rows</param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logDecay">g = log α <c>[B, H, T]</c>, ≤ 0 (so every exponential above is ≤ 1)</param>
    /// <param name="beta">β <c>[B, H, T]</c></param>
    /// <param name="chunkSize">C ≥ 1; any value gives the same result, speed differs</param>
    /// <param name="initialState">S before the first token <c>[B, H, Dk, Dv]</c> (default zeros)</param>
    /// <param name="scale">read-out scale (default <c>1/√Dk</c>)</param>
    /// <param name="inverse">how <c>I + A</c> is inverted (<see cref="UnitLowerInverse.Auto"/>: blocked triangular solve on
    /// CUDA, block recursion elsewhere); same result every way</param>
    /// <param name="chunksPerGroup">G ≥ 1: the chunk recurrence runs in three phases instead of N dependent steps.
    /// (1) Within every group of G consecutive chunks, batched over all groups, the prefix maps
    /// <c>(P_j, Q_j) = (M_j P_{j−1}, M_j Q_{j−1} + B_j)</c> (G − 1 steps); (2) the loop over the N/G groups with each
    /// group's composed map <c>S_{next group} = P_{G−1} S + Q_{G−1}</c>; (3) every chunk start inside the groups from its
    /// group's start, again batched over all groups (G − 1 steps of <c>S ← M S + B</c>). A ragged rest of N mod G chunks
    /// runs chunk by chunk after the groups. Grouping is skipped (plain chunk loop) when it would not give fewer
    /// sequential steps than N, e.g. for short sequences; 1 always runs the plain loop. Same result for every G.</param>
    /// <returns>output <c>[B, H, T, Dv]</c> in q's dtype, and the state after the last token <c>[B, H, Dk, Dv]</c></returns>
    public static (Tensor Output, Tensor FinalState) Chunked(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        int chunkSize = DefaultChunkSize, Tensor? initialState = null, double? scale = null, UnitLowerInverse inverse = UnitLowerInverse.Auto,
        int chunksPerGroup = DefaultChunksPerGroup)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        CheckDomain(q, k, logDecay, beta);
        return ChunkedUnchecked(q, k, v, logDecay, beta, chunkSize, initialState, scale, inverse, chunksPerGroup);
    }

    /// <summary>
    /// <see cref="Chunked"/> with the shape checks only, without the domain check's reductions and GPU wait: for the
    /// layer, whose k (normalised), g (≤ 0) and β (σ) lie in the domain by construction.
    /// </summary>
    internal static (Tensor Output, Tensor FinalState) ChunkedUnchecked(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        int chunkSize, Tensor? initialState, double? scale, UnitLowerInverse inverse, int chunksPerGroup)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
        if (chunksPerGroup < 1) throw new ArgumentOutOfRangeException(nameof(chunksPerGroup), chunksPerGroup, "chunksPerGroup must be ≥ 1.");
        using var tf32 = Tf32Scope.For(q);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, v, logDecay, beta, chunkSize, scale, inverse);
        long x = p.Batch * p.Heads, dk = p.Dk, dv = p.Dv, n = p.Chunks;
        // [M_n | B_n] with B·H folded: every slice below is a strided view (batch and row strides), no copies.
        var maps = p.Maps.view(x, n, dk, dk + dv);                                    // [B·H, N, Dk, Dk+Dv]
        Tensor? s = initialState?.to(p.DType).reshape(x, dk, dv);
        long g = GroupSize(n, chunksPerGroup), full = g == 1 ? 0 : n / g;
        var pieces = new List<Tensor>();                                              // chunk-start states, in chunk order
        if (full > 0)
        {
            // Member j of every group is a view with one uniform batch stride (the two batch dims merge), which batched
            // matmuls read in place. (A step-major copy of the maps measured slower on an H200: it only adds the copy.)
            var grouped = maps.narrow(1, 0, full * g).view(x, full, g, dk, dk + dv);  // [B·H, N/G, G, Dk, Dk+Dv]
            // (1) [P_j | Q_j]: the map from the group's start to the end of its chunk j.
            var prefix = grouped.select(2, 0);                                        // [B·H, N/G, Dk, Dk+Dv]
            for (int j = 1; j < g; j++)
            {
                var e = grouped.select(2, j);
                var next = e.narrow(-1, 0, dk).matmul(prefix);                        // [M_j P | M_j Q]
                next.narrow(-1, dk, dv).add_(e.narrow(-1, dk, dv));                   // … + [0 | B_j]
                prefix = next;
            }
            // (2) The only long sequential part, one step per group; group-major so that each step reads a contiguous block.
            var across = prefix.transpose(0, 1).contiguous();                         // [N/G, B·H, Dk, Dk+Dv]
            var groupStarts = new List<Tensor>((int)full);
            for (int i = 0; i < full; i++)
            {
                groupStarts.Add(s ?? zeros(x, dk, dv, dtype: p.DType, device: q.device));
                s = Advance(across[i], s, dk, dv);
            }
            // (3) Chunk starts inside every group from the group's start, batched over groups.
            var inGroup = new List<Tensor>((int)g) { stack(groupStarts, 1) };          // [B·H, N/G, Dk, Dv]
            for (int j = 0; j < g - 1; j++)
            {
                var e = grouped.select(2, j);
                inGroup.Add(e.narrow(-1, 0, dk).matmul(inGroup[j]).add_(e.narrow(-1, dk, dv)));
            }
            pieces.Add(stack(inGroup, 2).view(x, full * g, dk, dv));                  // [B·H, G·(N/G), Dk, Dv]
        }
        // The plain chunk loop: every chunk when not grouped, else the ragged rest.
        var rest = new List<Tensor>();
        for (long i = full * g; i < n; i++)
        {
            rest.Add(s ?? zeros(x, dk, dv, dtype: p.DType, device: q.device));
            s = Advance(maps.select(1, i), s, dk, dv);
        }
        if (rest.Count > 0) pieces.Add(stack(rest, 1));                               // [B·H, ·, Dk, Dv]
        var start = (pieces.Count == 1 ? pieces[0] : cat(pieces, 1)).view(p.Batch, p.Heads, n, dk, dv);   // [B, H, N, Dk, Dv]
        var o = p.Output(start);
        return (o.to(q.dtype).MoveToOuterDisposeScope(), s!.reshape(p.Batch, p.Heads, dk, dv).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One affine step <c>S ← M S + B</c> with <c>map = [M | B]</c> <c>[X, Dk, Dk+Dv]</c>; with no state yet
    /// (zeros) that is just B. (Not baddbmm: TorchSharp 0.107 passes its operands to libtorch in the wrong order.)
    /// </summary>
    static Tensor Advance(Tensor map, Tensor? s, long dk, long dv) =>
        s is null ? map.narrow(-1, dk, dv) : map.narrow(-1, 0, dk).matmul(s).add_(map.narrow(-1, dk, dv));

    /// <summary>
    /// The group size <see cref="Chunked"/> uses for N chunks: the requested G (at most N) when its three phases take
    /// fewer sequential steps, <c>(G − 1) + ⌊N/G⌋ + (G − 1) + N mod G</c>, than the N of the plain loop; else 1.
    /// </summary>
    internal static long GroupSize(long chunks, int requested)
    {
        long g = Math.Min(requested, chunks);
        if (g <= 1) return 1;
        long steps = 2 * (g - 1) + chunks / g + chunks % g;
        return steps < chunks ? g : 1;
    }

    /// <summary>
    /// Same result as <see cref="Chunked"/>, with the chunk-state recurrence as a parallel prefix scan instead of a
    /// loop: the affine maps <c>(M_n, B_n)</c> compose associatively, <c>(M₂, B₂) ∘ (M₁, B₁) = (M₂M₁, M₂B₁ + B₂)</c>, so
    /// ⌈log₂ N⌉ levels of batched matmuls (each combining every chunk with the one 2ˡ before it) give every prefix,
    /// hence every chunk-start state. More arithmetic (about log₂N·Dk³ per chunk instead of Dk²·Dv) for far fewer
    /// sequential launches: what suits a GPU at long T.
    /// </summary>
    /// <inheritdoc cref="Chunked" path="/param"/>
    /// <returns>output <c>[B, H, T, Dv]</c> in q's dtype, and the state after the last token <c>[B, H, Dk, Dv]</c></returns>
    public static (Tensor Output, Tensor FinalState) ChunkedScan(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        int chunkSize = DefaultChunkSize, Tensor? initialState = null, double? scale = null, UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        CheckDomain(q, k, logDecay, beta);
        return ChunkedScanUnchecked(q, k, v, logDecay, beta, chunkSize, initialState, scale, inverse);
    }

    /// <summary><see cref="ChunkedScan"/> with the shape checks only (the kernel registry times and fuzzes the kernels themselves).</summary>
    internal static (Tensor Output, Tensor FinalState) ChunkedScanUnchecked(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        int chunkSize, Tensor? initialState, double? scale, UnitLowerInverse inverse)
    {
        CheckInputs(q, k, v, logDecay, beta, initialState);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");
        using var tf32 = Tf32Scope.For(q);
        using var scope = NewDisposeScope();
        var p = Prepare(q, k, v, logDecay, beta, chunkSize, scale, inverse);
        long dk = p.Dk, dv = p.Dv;
        // Inclusive scan over the chunk axis (dim 2): after it, (M, B)[n] maps S_0 to S_{n+1}.
        Tensor m = p.Maps.narrow(-1, 0, dk), b = p.Maps.narrow(-1, dk, dv);          // [B, H, N, Dk, Dk], [B, H, N, Dk, Dv]
        for (long shift = 1; shift < p.Chunks; shift *= 2)
        {
            var mLate = m[.., .., (int)shift..];
            var mEarly = m[.., .., ..(int)(p.Chunks - shift)];
            var bEarly = b[.., .., ..(int)(p.Chunks - shift)];
            var newB = mLate.matmul(bEarly) + b[.., .., (int)shift..];
            var newM = mLate.matmul(mEarly);
            m = cat(new[] { m[.., .., ..(int)shift], newM }, 2);
            b = cat(new[] { b[.., .., ..(int)shift], newB }, 2);
        }
        var after = initialState is null ? b : m.matmul(initialState.to(p.DType).unsqueeze(2)) + b;   // S_{n+1} [B, H, N, Dk, Dv]
        var first = initialState?.to(p.DType).unsqueeze(2) ?? zeros(new long[] { p.Batch, p.Heads, 1, dk, dv }, dtype: p.DType, device: q.device);
        var start = cat(new[] { first, after[.., .., ..(int)(p.Chunks - 1)] }, 2);   // S_n
        var o = p.Output(start);
        return (o.to(q.dtype).MoveToOuterDisposeScope(), after[.., .., -1].contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Everything of the chunked form that is batched over chunks, in the computing dtype: Maps <c>[M_n | B_n]</c>
    /// <c>[B, H, N, Dk, Dk+Dv]</c> (one tensor, so that one matmul applies both halves of a composed map); QueryMaps
    /// <c>Q' = exp(γ) ⊙ Q − (QKᵀ ⊙ Γ) W̃</c> <c>[B, H, N, C, Dk]</c> (what reads the chunk-start state); IntraValues
    /// <c>(QKᵀ ⊙ Γ) Ũ</c> <c>[B, H, N, C, Dv]</c> (the part of the outputs the state does not touch).
    /// </summary>
    sealed record Pieces(long Batch, long Heads, long Length, long Chunks, long Dk, long Dv, ScalarType DType,
        Tensor Maps, Tensor QueryMaps, Tensor IntraValues)
    {
        /// <summary>
        /// Outputs from the state at every chunk's start <c>[B, H, N, Dk, Dv]</c>: <c>[B, H, T, Dv]</c>.
        /// <c>O = (exp(γ) ⊙ Q) S_n + (QKᵀ ⊙ Γ)(Ũ − W̃ S_n) = Q' S_n + (QKᵀ ⊙ Γ) Ũ</c>, regrouped so that everything but
        /// one matmul and an add is done before the chunk recurrence.
        /// </summary>
        public Tensor Output(Tensor start)
        {
            var o = QueryMaps.matmul(start) + IntraValues;                             // [B, H, N, C, Dv]
            var flat = o.reshape(Batch, Heads, -1, Dv);
            return flat.shape[2] == Length ? flat : flat[.., .., ..(int)Length];
        }
    }

    static Pieces Prepare(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, int chunkSize, double? scale, UnitLowerInverse inverse)
    {
        var dtype = Householder.AccumulationType(q.dtype);
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3], dv = v.shape[3];
        long c = Math.Min(chunkSize, t), n = (t + c - 1) / c, pad = n * c - t;
        double sc = scale ?? 1.0 / Math.Sqrt(dk);
        Tensor Rows(Tensor x) => (pad == 0 ? x.to(dtype) : F.pad(x.to(dtype), new long[] { 0, 0, 0, pad })).view(b, h, n, c, x.shape[3]);
        Tensor Gates(Tensor x) => (pad == 0 ? x.to(dtype) : F.pad(x.to(dtype), new long[] { 0, pad })).view(b, h, n, c);

        var qc = Rows(q) * sc;                                                        // [B, H, N, C, Dk]
        var kc = Rows(k);
        var vc = Rows(v);                                                             // [B, H, N, C, Dv]
        var gamma = Gates(logDecay).cumsum(-1);                                       // γ, restarted in every chunk [B, H, N, C]
        var bc = Gates(beta).unsqueeze(-1);                                           // [B, H, N, C, 1]
        var above = ones(c, c, dtype: ScalarType.Bool, device: q.device).triu(1);
        // Γ, 0 above the diagonal (masked before the exponential: exp of the positive differences there could overflow
        // and poison the gradients); computed once, used for A and for the intra-chunk scores. In place: 3 kernels, 1 tensor.
        var decay = (gamma.unsqueeze(-1) - gamma.unsqueeze(-2)).masked_fill_(above, double.NegativeInfinity).exp_();
        var bk = bc * kc;                                                             // diag(β) K: β folded into the C×Dk operand
        // A and the intra-chunk scores in one matmul and one product with Γ: rows [diag(β) K ; scale·Q] against K.
        // A is used as diag(β)(KKᵀ) ⊙ Γ without strictLower: both solvers read only its strict lower triangle
        // (the unit diagonal is implied, the upper part is never touched), so its diagonal gets no gradient either.
        var scores = cat(new[] { bk, qc }, -2).matmul(kc.transpose(-2, -1)).view(b, h, n, 2, c, c) * decay.unsqueeze(-3);
        var a = scores.select(-3, 0);                                                 // A (plus β on the diagonal, unread) [B, H, N, C, C]
        var intra = scores.select(-3, 1);                                             // QKᵀ ⊙ Γ, causal incl. diagonal
        var toStart = gamma.exp().unsqueeze(-1);                                      // exp(γ_r): decay from the chunk's start to r
        // W̃ is solved for with its sign flipped, so that the matmuls below give [M − exp(γ_C) I | B] and
        // [Q' − exp(γ) ⊙ Q | (QKᵀ ⊙ Γ) Ũ] in one go each.
        var rhs = cat(new[] { bk * -toStart, bc * vc }, -1);                          // [−diag(β)(exp(γ) ⊙ K) | diag(β) V] [B, H, N, C, Dk+Dv]
        var wu = SolveUnitLower(a, rhs, inverse);                                     // [−W̃ | Ũ] = T [·|·], one matmul for both
        var total = gamma[.., .., .., ^1..];                                          // γ_C [B, H, N, 1]
        var kToEnd = (kc * (total - gamma).exp().unsqueeze(-1)).transpose(-2, -1);    // K̃ᵀ [B, H, N, Dk, C]
        var maps = kToEnd.matmul(wu);                                                 // [−K̃ᵀW̃ | K̃ᵀŨ] [B, H, N, Dk, Dk+Dv]
        maps.diagonal(0, -2, -1).add_(total.exp());                                   // [M | B]: + exp(γ_C) on M's diagonal only
        var read = intra.matmul(wu);                                                  // [−(QKᵀ ⊙ Γ) W̃ | (QKᵀ ⊙ Γ) Ũ] [B, H, N, C, Dk+Dv]
        var queryMaps = read.narrow(-1, 0, dk).add(qc * toStart);                     // Q' [B, H, N, C, Dk]
        return new Pieces(b, h, t, n, dk, dv, dtype, maps, queryMaps, read.narrow(-1, dk, dv));
    }

    /// <summary>
    /// <c>(I + A)⁻¹ R</c> for the strict lower triangle <c>A</c> of <paramref name="a"/> <c>[..., C, C]</c> (its diagonal and
    /// upper part are neither read nor differentiated by either path) and right-hand sides <c>R</c> <c>[..., C, X]</c>:
    /// <c>T = (I + A)⁻¹</c> by <see cref="Householder.InverseUnitLowerBlocked"/> (<see cref="UnitLowerInverse.BlockedSolve"/>,
    /// and Auto on CUDA), <see cref="Householder.InverseUnitLower"/> (TriangularSolve) or
    /// <see cref="Householder.InverseUnitLowerBlockwise"/> (Blockwise, and Auto elsewhere), then one matmul with every
    /// right-hand side at once.
    /// <para>Why not one solve straight for R (no explicit T): a batched triangular solve costs in proportion to its
    /// right-hand sides and runs far below matmul speed. Measured on an H200 (fp32/TF32, 8192 matrices of 64×64,
    /// X = 128): solving for R 1.9 ms; solving for I (64 columns) 1.06 ms plus one 0.16 ms matmul, 1.22 ms.</para>
    /// </summary>
    static Tensor SolveUnitLower(Tensor a, Tensor rhs, UnitLowerInverse inverse)
    {
        var t = inverse switch
        {
            UnitLowerInverse.TriangularSolve => Householder.InverseUnitLower(a),
            UnitLowerInverse.BlockedSolve => Householder.InverseUnitLowerBlocked(a),
            UnitLowerInverse.Auto when a.device_type == DeviceType.CUDA => Householder.InverseUnitLowerBlocked(a),
            _ => Householder.InverseUnitLowerBlockwise(a),
        };
        return t.matmul(rhs);
    }

    /// <summary>The token loop in the computing dtype; adds every state to <paramref name="states"/> when given.</summary>
    static (List<Tensor> Outputs, Tensor State) Loop(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta,
        Tensor? initialState, double? scale, List<Tensor>? states)
    {
        var dtype = Householder.AccumulationType(q.dtype);
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3], dv = v.shape[3];
        double sc = scale ?? 1.0 / Math.Sqrt(dk);
        // Time-major and unbound once: every step reads contiguous [B, H, ·] slices, and the backward of all the
        // slices is one stack (slicing per step would scatter each step's gradient into a full-length zero tensor).
        static Tensor[] Steps(Tensor x) => x.movedim(new long[] { 2 }, new long[] { 0 }).contiguous().unbind(0);
        var qs = Steps(sc * q.to(dtype));
        var kk = Steps(k.to(dtype));
        var vv = Steps(v.to(dtype));
        var alpha = Steps(logDecay.to(dtype).exp());
        var bb = Steps(beta.to(dtype));
        var s = initialState?.to(dtype) ?? zeros(b, h, dk, dv, dtype: dtype, device: q.device);
        var outputs = new List<Tensor>((int)t);
        for (int i = 0; i < t; i++)
        {
            using var step = NewDisposeScope();
            var (o, next) = Update(s, qs[i], kk[i], vv[i], alpha[i], bb[i]);
            outputs.Add(o.MoveToOuterDisposeScope());
            s = next.MoveToOuterDisposeScope();
            states?.Add(s);
        }
        return (outputs, s);
    }

    /// <summary>One token: state <c>[B, H, Dk, Dv]</c>, scaled q and k <c>[B, H, Dk]</c>, v <c>[B, H, Dv]</c>, α and β <c>[B, H]</c>.</summary>
    static (Tensor Output, Tensor State) Update(Tensor s, Tensor q, Tensor k, Tensor v, Tensor alpha, Tensor beta)
    {
        var decayed = alpha.unsqueeze(-1).unsqueeze(-1) * s;
        var error = v - k.unsqueeze(-2).matmul(decayed).squeeze(-2);                 // v − Sᵀk  [B, H, Dv]
        var next = decayed + (beta.unsqueeze(-1) * k).unsqueeze(-1) * error.unsqueeze(-2);
        return (q.unsqueeze(-2).matmul(next).squeeze(-2), next);
    }

    /// <summary>
    /// The domain (docs/domains.md): unit rows k, log decay g finite and ≤ 0 (α = exp g ∈ (0, 1]), β ∈ [0, 2] — then
    /// every transition <c>α(I − βkkᵀ)</c> has spectral norm ≤ 1 and the memory cannot grow without bound. q may have
    /// any norm (it only reads). Call after <see cref="CheckInputs"/>.
    /// </summary>
    static void CheckDomain(Tensor q, Tensor k, Tensor logDecay, Tensor beta)
    {
        using var scope = NewDisposeScope();
        new Domain.Rules()
            .UnitRows(k, nameof(k), "the rule's keys are L2-normalised; the transition I − βkkᵀ is contractive only for unit k")
            .InRange(logDecay, nameof(logDecay), double.MinValue, 0, "the decay α = exp(g) lies in (0, 1], so g is finite and ≤ 0")
            .InRange(beta, nameof(beta), 0, 2, "the transition I − βkkᵀ has eigenvalue 1 − β along k, which must lie in [−1, 1]")
            .Check();
    }

    static void CheckInputs(Tensor q, Tensor k, Tensor v, Tensor logDecay, Tensor beta, Tensor? initialState)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, Dk]");
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3];
        if (t < 1) throw new ArgumentException($"q must have shape [B, H, T, Dk] with T ≥ 1, got {Shapes.Describe(q)}.", nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, Dk]", b, h, t, dk);
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", b, h, t, -1);
        Shapes.Exactly(logDecay, nameof(logDecay), "[B, H, T]", b, h, t);
        Shapes.Exactly(beta, nameof(beta), "[B, H, T]", b, h, t);
        foreach (var (x, name) in new[] { (q, nameof(q)), (k, nameof(k)), (v, nameof(v)), (logDecay, nameof(logDecay)), (beta, nameof(beta)) })
            Shapes.Floating(x, name);
        Domain.SameDType(k, nameof(k), q, nameof(q));
        Domain.SameDType(v, nameof(v), q, nameof(q));
        Domain.GateDType(logDecay, nameof(logDecay), q);
        Domain.GateDType(beta, nameof(beta), q);
        if (initialState is not null)
        {
            Shapes.Exactly(initialState, nameof(initialState), "[B, H, Dk, Dv]", b, h, dk, v.shape[3]);
            Shapes.Floating(initialState, nameof(initialState));
        }
    }
}
