// Fused causal attention with an optional FoX gate bias and an optional sliding window, forward and backward.
// FlashAttention-2-style tiles: online softmax, no T×T tensor in memory, probabilities recomputed in the backward.
// Tensor cores through mma.sync m16n8k16 (bf16 or fp16 inputs, float32 accumulation); compiled at run time by NVRTC
// (no CUDA headers needed: half-precision values travel as raw 16-bit patterns and are converted with PTX).
//
// Shapes (all contiguous, row-major): q, k, v, o, dout, dk, dv [BH, T, D] in the 16-bit type;
// cum (optional, FoX) [BH, T] float32: c_t = Σ_{l ≤ t} log f_l, so the bias of query i and key j is c_i − c_j;
// lse [BH, T] float32 in the log2 domain (written by the forward, read by the backward);
// delta [BH, T] float32 = Σ_d dout·o (computed by the caller); dq_acc [BH, T, D] float32, zeroed by the caller and
// accumulated atomically; dcum_q [BH, T] float32, zeroed and accumulated atomically; dcum_k [BH, T] float32, written.
// Logit of (i, j): scale · q_i·k_j + c_i − c_j for j ≤ i (and i − j < window when window > 0), else masked.
// Every CTA runs 4 warps; a warp owns 16 rows of the 64-row tile.
// Block skipping (FoX, optional): with qnorm [BH, T] = ‖q_i‖, knmax [BH, ⌈T/64⌉] = max ‖k_j‖ and cmin [BH, ⌈T/64⌉]
// = min c_j over each 64-key block, every logit of query i in key block n is at most
//   bound_i,n = c_i − cmin_n + scale · ‖q_i‖ · knmax_n.
// A key block off the diagonal is skipped when bound_i,n < floor_i − margin for every row i of the tile, where floor_i
// is a lower bound of row i's maximum logit: its diagonal logit scale · q_i·k_i in the forward (the key i is never
// masked), its log-sum-exp in the backward. Each skipped weight is then below e^−margin relative to the row's largest
// (e^−100 ≈ 4e−44 by default: invisible even in float64). skipped (optional) counts the skipped blocks.

typedef unsigned short u16;
typedef unsigned int u32;

#define PN_BQ 64
#define PN_BK 64
#define PN_THREADS 128
#define PN_LOG2E 1.4426950408889634f
#define PN_NEG_INF (__int_as_float(0xff800000))

template <bool BF16> struct Half16;

template <> struct Half16<true>
{
    static __device__ __forceinline__ u32 pack(float lo, float hi)
    {
        u32 r;
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
        return r;
    }
    static __device__ __forceinline__ u16 one(float x) { return (u16)(pack(x, 0.f) & 0xffffu); }
    static __device__ __forceinline__ float value(u16 x) { return __uint_as_float(((u32)x) << 16); }
    static __device__ __forceinline__ void mma(float* c, const u32* a, u32 b0, u32 b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <> struct Half16<false>
{
    static __device__ __forceinline__ u32 pack(float lo, float hi)
    {
        u32 r;
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
        return r;
    }
    static __device__ __forceinline__ u16 one(float x) { return (u16)(pack(x, 0.f) & 0xffffu); }
    static __device__ __forceinline__ float value(u16 x)
    {
        float f;
        asm("{ .reg .b16 h; mov.b16 h, %1; cvt.f32.f16 %0, h; }" : "=f"(f) : "h"(x));
        return f;
    }
    static __device__ __forceinline__ void mma(float* c, const u32* a, u32 b0, u32 b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

static __device__ __forceinline__ u32 ld32(const u16* p) { return *reinterpret_cast<const u32*>(p); }

static __device__ __forceinline__ u32 shared_address(const void* p)
{
    u32 a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 2^x in one MUFU instruction (flush-to-zero; 2^−∞ = 0). exp2f would add range and denormal handling that the
// softmax does not need: its arguments are ≤ 0 and a result below 2^−126 is as good as zero next to the row's 1.
static __device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Four 8×8 tiles of 16-bit values from shared memory; lane l gives the address of row l % 8 of tile l / 8.
// Plain: register i holds (row l/4, columns 2(l%4), 2(l%4)+1) of tile i: an A- or B-operand piece of a row-major tile.
// Transposed: register i holds (rows 2(l%4), 2(l%4)+1; column l/4) of tile i: the B operand from a tile whose
// rows are the k index, so no transposed copy of K, V, Q or dO is ever stored.
static __device__ __forceinline__ void ldmatrix4(u32* r, const u16* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(p)));
}
static __device__ __forceinline__ void ldmatrix4_trans(u32* r, const u16* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(p)));
}

// B operands (k = the tile's column index) for n-tiles j and j+1 of a row-major tile x[n][k] with row stride S:
// b[0], b[1] for n-tile j, b[2], b[3] for j + 1, at k-step kk.
template <int S>
static __device__ __forceinline__ void b_pair_rows(u32* b, const u16* x, int j, int kk, int lane)
{
    const int tile = lane >> 3, r = lane & 7;
    ldmatrix4(b, x + (8 * (j + (tile >> 1)) + r) * S + 16 * kk + (tile & 1) * 8);
}

// B operands for n-tiles j, j+1 from a tile whose rows are the k index, x[k][n] (row stride S), at k-step kk.
template <int S>
static __device__ __forceinline__ void b_pair_cols(u32* b, const u16* x, int j, int kk, int lane)
{
    const int tile = lane >> 3, r = lane & 7;
    ldmatrix4_trans(b, x + (16 * kk + (tile & 1) * 8 + r) * S + 8 * (j + (tile >> 1)));
}

// The A operand (16 rows from row0, k-step kk) of a row-major tile x[m][k] with row stride S.
template <int S>
static __device__ __forceinline__ void a_rows(u32* a, const u16* x, int row0, int kk, int lane)
{
    const int tile = lane >> 3, r = lane & 7;
    ldmatrix4(a, x + (row0 + (tile & 1) * 8 + r) * S + 16 * kk + (tile >> 1) * 8);
}

// Copies a [64, D] tile of rows row0… of x [T, D] into shared memory (row stride D + 8 halves, so that the eight
// rows an ldmatrix reads fall into different banks). Rows at or past T are zero.
template <int D>
static __device__ __forceinline__ void load_tile(const u16* __restrict__ x, int row0, int T, u16* tile)
{
    constexpr int S = D + 8;
    for (int idx = threadIdx.x; idx < PN_BK * D / 8; idx += PN_THREADS)
    {
        int row = idx / (D / 8), col = (idx % (D / 8)) * 8;
        uint4 val = make_uint4(0u, 0u, 0u, 0u);
        if (row0 + row < T) val = *reinterpret_cast<const uint4*>(x + (size_t)(row0 + row) * D + col);
        *reinterpret_cast<uint4*>(tile + row * S + col) = val;
    }
}

// Asynchronous copies to shared memory (cp.async, sm_80+): a copy with valid = false writes zeros and reads nothing.
static __device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}
static __device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(shared_address(dst)), "l"(src), "r"(valid ? 4 : 0));
}
static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int PENDING>
static __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(PENDING)); }

// load_tile's asynchronous form: the copies land once the CTA waits for their group.
template <int D>
static __device__ __forceinline__ void load_tile_async(const u16* __restrict__ x, int row0, int T, u16* tile)
{
    constexpr int S = D + 8;
    for (int idx = threadIdx.x; idx < PN_BK * D / 8; idx += PN_THREADS)
    {
        const int row = idx / (D / 8), col = (idx % (D / 8)) * 8;
        const bool in = row0 + row < T;
        cp_async16(tile + row * S + col, x + (size_t)(in ? row0 + row : 0) * D + col, in);
    }
}

// Query rows per warp in the forward: 16·MT. Two m-tiles per warp (D = 64) let every K and V fragment read from
// shared memory feed two mma instead of one, halving the shared-memory traffic per product; at D = 128 the second
// tile's registers do not fit.
template <int D> struct ForwardTiles { static constexpr int MT = D <= 64 ? 2 : 1; };

template <bool BF16, int D, bool GATED>
static __device__ __forceinline__ void attention_forward(
    const u16* __restrict__ q, const u16* __restrict__ k, const u16* __restrict__ v, const float* __restrict__ cum,
    u16* __restrict__ o, float* __restrict__ lse, int T, int window, float scale,
    const float* __restrict__ qnorm, const float* __restrict__ diag, const float* __restrict__ knmax, const float* __restrict__ cmin,
    float margin, int* __restrict__ skipped)
{
    typedef Half16<BF16> H;
    constexpr int MT = ForwardTiles<D>::MT, BQ = 64 * MT, S = D + 8;
    constexpr int STAGE = 2 * PN_BK * S + 2 * PN_BK;   // halves per pipeline stage: K and V tiles, then 64 floats of c
    extern __shared__ __align__(16) unsigned char smem[];
    u16* stages = reinterpret_cast<u16*>(smem);

    // Grid (BH, query tiles): the tiles with the most key blocks start first, so the causal triangle's short tiles fill the tail.
    const int bh = blockIdx.x, q0 = (gridDim.y - 1 - blockIdx.y) * BQ;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const size_t base = (size_t)bh * T * D;
    q += base; k += base; v += base; o += base;
    const float* cumRow = GATED ? cum + (size_t)bh * T : nullptr;
    const float scaleLog2 = scale * PN_LOG2E;

    // Scores in the log2 domain. Causal/window: the row maximum is taken on the raw products (scale > 0 keeps the
    // order), then p = 2^(scale·log2e·s − m) is one FFMA and one MUFU per score. FoX: x = scale·log2e·s − log2e·c_j
    // is one FFMA; the row's c_i shifts the logit and its maximum alike, so it cancels in p = 2^(x − max x) and enters
    // only the log-sum-exp. m[·] holds the running row maximum of x (causal: of the raw products).
    int rows[MT][2];
    u32 qf[MT][D / 16][4];
    float cq[MT][2], m[MT][2], l[MT][2], acc[MT][D / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
    {
        const int r0 = q0 + warp * 16 * MT + mt * 16 + g, r1 = r0 + 8;
        rows[mt][0] = r0; rows[mt][1] = r1;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
        {
            qf[mt][kk][0] = r0 < T ? ld32(q + (size_t)r0 * D + 16 * kk + 2 * t) : 0u;
            qf[mt][kk][1] = r1 < T ? ld32(q + (size_t)r1 * D + 16 * kk + 2 * t) : 0u;
            qf[mt][kk][2] = r0 < T ? ld32(q + (size_t)r0 * D + 16 * kk + 8 + 2 * t) : 0u;
            qf[mt][kk][3] = r1 < T ? ld32(q + (size_t)r1 * D + 16 * kk + 8 + 2 * t) : 0u;
        }
        cq[mt][0] = GATED && r0 < T ? cumRow[r0] * PN_LOG2E : 0.f;
        cq[mt][1] = GATED && r1 < T ? cumRow[r1] * PN_LOG2E : 0.f;
        m[mt][0] = m[mt][1] = PN_NEG_INF;
        l[mt][0] = l[mt][1] = 0.f;
#pragma unroll
        for (int j = 0; j < D / 8; ++j) acc[mt][j][0] = acc[mt][j][1] = acc[mt][j][2] = acc[mt][j][3] = 0.f;
    }

    const int lastBlock = (min(q0 + BQ, T) - 1) / PN_BK;
    const int firstBlock = window > 0 ? max(0, q0 - window + 1) / PN_BK : 0;
    // Block skipping: a key block wholly before the tile is skipped when every row's bound lies margin below its floor
    // (rows past T never hold a block back). The vote is CTA-wide, so every thread calls this for the same blocks.
    const bool skipping = GATED && knmax;
    const size_t rowBase = (size_t)bh * T, blockBase = (size_t)bh * ((T + PN_BK - 1) / PN_BK);
    auto visible = [&](int kb) -> bool
    {
        if (!skipping || kb * PN_BK + PN_BK > q0) return true;
        const float c = cmin[blockBase + kb], n = knmax[blockBase + kb];
        bool below = true;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int e = 0; e < 2; ++e)
            {
                const int r = rows[mt][e];
                if (r < T) below = below && cumRow[r] - c + scale * qnorm[rowBase + r] * n < diag[rowBase + r] - margin;
            }
        const bool skip = __syncthreads_and(below);
        if (skip && skipped && threadIdx.x == 0) atomicAdd(skipped, 1);
        return !skip;
    };
    // The key blocks run from the diagonal backwards: with FoX's gate the nearest keys carry the largest logits, so the
    // row maxima are found first and the later blocks rarely rescale (for plain causal attention the order is neutral).
    auto nextVisible = [&](int kb) -> int { while (kb >= firstBlock && !visible(kb)) --kb; return kb; };
    // Double buffering: the next visible block's K, V and c are copied into the other stage while this one computes.
    auto issue = [&](int kb, int stage)
    {
        u16* ks = stages + stage * STAGE;
        const int k0 = kb * PN_BK;
        load_tile_async<D>(k, k0, T, ks);
        load_tile_async<D>(v, k0, T, ks + PN_BK * S);
        if (GATED && threadIdx.x < PN_BK)
        {
            const bool in = k0 + threadIdx.x < T;
            cp_async4(reinterpret_cast<float*>(ks + 2 * PN_BK * S) + threadIdx.x, cumRow + (in ? k0 + threadIdx.x : 0), in);
        }
    };

    int kb = nextVisible(lastBlock), stage = 0;
    if (kb >= firstBlock) issue(kb, 0);
    cp_async_commit();
    while (kb >= firstBlock)
    {
        const int next = nextVisible(kb - 1);
        if (next >= firstBlock) issue(next, stage ^ 1);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        const u16* ks = stages + stage * STAGE;
        const u16* vs = ks + PN_BK * S;
        const float* cs = reinterpret_cast<const float*>(ks + 2 * PN_BK * S);
        const int k0 = kb * PN_BK;
        // Only blocks that cross the diagonal, the end of the sequence or the window's edge need the mask.
        const bool edge = k0 + PN_BK - 1 > q0 || k0 + PN_BK > T || (window > 0 && k0 <= q0 + BQ - 1 - window);

        float s[MT][PN_BK / 8][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int j = 0; j < PN_BK / 8; ++j) s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
            for (int j = 0; j < PN_BK / 8; j += 2)
            {
                u32 b[4];
                b_pair_rows<S>(b, ks, j, kk, lane);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
                {
                    H::mma(s[mt][j], qf[mt][kk], b[0], b[1]);
                    H::mma(s[mt][j + 1], qf[mt][kk], b[2], b[3]);
                }
            }
        // −log2e·c_j of this thread's columns (shared by its rows).
        float cc[PN_BK / 8][2];
        if (GATED)
        {
#pragma unroll
            for (int j = 0; j < PN_BK / 8; ++j)
            {
                const float2 c2 = *reinterpret_cast<const float2*>(cs + 8 * j + 2 * t);
                cc[j][0] = -c2.x * PN_LOG2E;
                cc[j][1] = -c2.y * PN_LOG2E;
            }
        }
        u32 pa[MT][PN_BK / 16][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
        {
            float mx0 = PN_NEG_INF, mx1 = PN_NEG_INF;
#pragma unroll
            for (int j = 0; j < PN_BK / 8; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                {
                    float x = GATED ? fmaf(s[mt][j][e], scaleLog2, cc[j][e & 1]) : s[mt][j][e];
                    if (edge)
                    {
                        const int key = k0 + 8 * j + 2 * t + (e & 1), row = rows[mt][e >> 1];
                        const bool ok = key <= row && key < T && (window <= 0 || key > row - window);
                        x = ok ? x : PN_NEG_INF;
                    }
                    s[mt][j][e] = x;
                    if (e < 2) mx0 = fmaxf(mx0, x); else mx1 = fmaxf(mx1, x);
                }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            const float n0 = fmaxf(m[mt][0], mx0), n1 = fmaxf(m[mt][1], mx1);
            // The exponent offsets in the log2 domain. A row with nothing visible yet keeps m = −∞ and uses offset 0,
            // so that 2^(−∞) gives 0 and not NaN.
            const float f = GATED ? 1.f : scaleLog2;
            const float u0 = n0 == PN_NEG_INF ? 0.f : n0 * f, u1 = n1 == PN_NEG_INF ? 0.f : n1 * f;
            float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
            for (int j = 0; j < PN_BK / 8; ++j)
            {
                if (GATED)
                {
                    s[mt][j][0] = fast_exp2(s[mt][j][0] - u0); s[mt][j][1] = fast_exp2(s[mt][j][1] - u0);
                    s[mt][j][2] = fast_exp2(s[mt][j][2] - u1); s[mt][j][3] = fast_exp2(s[mt][j][3] - u1);
                }
                else
                {
                    s[mt][j][0] = fast_exp2(fmaf(s[mt][j][0], scaleLog2, -u0)); s[mt][j][1] = fast_exp2(fmaf(s[mt][j][1], scaleLog2, -u0));
                    s[mt][j][2] = fast_exp2(fmaf(s[mt][j][2], scaleLog2, -u1)); s[mt][j][3] = fast_exp2(fmaf(s[mt][j][3], scaleLog2, -u1));
                }
                sum0 += s[mt][j][0] + s[mt][j][1];
                sum1 += s[mt][j][2] + s[mt][j][3];
            }
            // Rescale the running sums and accumulators only when some row of the warp has a new maximum: after the
            // first blocks most rows keep theirs, and the multiply of every accumulator is then skipped.
            if (__any_sync(0xffffffffu, n0 != m[mt][0] || n1 != m[mt][1]))
            {
                const float a0 = fast_exp2(m[mt][0] * f - u0), a1 = fast_exp2(m[mt][1] * f - u1);
                l[mt][0] *= a0; l[mt][1] *= a1;
#pragma unroll
                for (int j = 0; j < D / 8; ++j) { acc[mt][j][0] *= a0; acc[mt][j][1] *= a0; acc[mt][j][2] *= a1; acc[mt][j][3] *= a1; }
            }
            l[mt][0] += sum0;   // per-thread partial sums; the 4 threads of a row are added at the end
            l[mt][1] += sum1;
            m[mt][0] = n0; m[mt][1] = n1;
            // The accumulator layout of two adjacent 8-key tiles is the A-operand layout of one 16-key step.
#pragma unroll
            for (int kk = 0; kk < PN_BK / 16; ++kk)
            {
                pa[mt][kk][0] = H::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][kk][1] = H::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][kk][2] = H::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][kk][3] = H::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
        }
        // O += P V.
#pragma unroll
        for (int kk = 0; kk < PN_BK / 16; ++kk)
#pragma unroll
            for (int j = 0; j < D / 8; j += 2)
            {
                u32 b[4];
                b_pair_cols<S>(b, vs, j, kk, lane);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
                {
                    H::mma(acc[mt][j], pa[mt][kk], b[0], b[1]);
                    H::mma(acc[mt][j + 1], pa[mt][kk], b[2], b[3]);
                }
            }
        __syncthreads();   // every warp is done with this stage before the next iteration refills it
        kb = next;
        stage ^= 1;
    }
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
    {
        float l0 = l[mt][0], l1 = l[mt][1];
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        const float i0 = 1.f / l0, i1 = 1.f / l1;
        const int r0 = rows[mt][0], r1 = rows[mt][1];
#pragma unroll
        for (int j = 0; j < D / 8; ++j)
        {
            if (r0 < T) *reinterpret_cast<u32*>(o + (size_t)r0 * D + 8 * j + 2 * t) = H::pack(acc[mt][j][0] * i0, acc[mt][j][1] * i0);
            if (r1 < T) *reinterpret_cast<u32*>(o + (size_t)r1 * D + 8 * j + 2 * t) = H::pack(acc[mt][j][2] * i1, acc[mt][j][3] * i1);
        }
        // The log-sum-exp of the full logit scale·s + c_i − c_j, log2 domain.
        if (t == 0)
        {
            const float f = GATED ? 1.f : scaleLog2;
            if (r0 < T) lse[(size_t)bh * T + r0] = m[mt][0] * f + cq[mt][0] + log2f(l0);
            if (r1 < T) lse[(size_t)bh * T + r1] = m[mt][1] * f + cq[mt][1] + log2f(l1);
        }
    }
}

// p[0] += a, p[1] += b (p 8-byte aligned): one vector reduction on sm_90 with PTX ISA 8.1 (CUDA 12.1+), else two atomics.
static __device__ __forceinline__ void atomic_add2(float* p, float a, float b)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && (__CUDACC_VER_MAJOR__ > 12 || (__CUDACC_VER_MAJOR__ == 12 && __CUDACC_VER_MINOR__ >= 1))
    asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" ::"l"(p), "f"(a), "f"(b) : "memory");
#else
    atomicAdd(p, a);
    atomicAdd(p + 1, b);
#endif
}

// The A operand (16 rows from row0, k-step kk) of a tile stored transposed, x[k][m] with row stride S: the
// transposed ldmatrix hands every thread its (m, k) pieces.
template <int S>
static __device__ __forceinline__ void a_cols(u32* a, const u16* x, int row0, int kk, int lane)
{
    const int tile = lane >> 3, r = lane & 7;
    ldmatrix4_trans(a, x + (16 * kk + (tile >> 1) * 8 + r) * S + row0 + (tile & 1) * 8);
}

// Pipeline stages of the backward's query tiles: two at D = 64 (the next Q, dO, lse, Δ and c arrive while this tile
// computes); one at D = 128, where a second stage would leave room for only one CTA per SM.
template <int D> struct BackwardTiles { static constexpr int STAGES = D <= 64 ? 2 : 1; };

template <bool BF16, int D, bool GATED>
static __device__ __forceinline__ void attention_backward(
    const u16* __restrict__ q, const u16* __restrict__ k, const u16* __restrict__ v, const float* __restrict__ cum,
    const u16* __restrict__ dout, const float* __restrict__ lse, const float* __restrict__ delta,
    float* __restrict__ dqAcc, u16* __restrict__ dk, u16* __restrict__ dv, float* __restrict__ dcumQ, float* __restrict__ dcumK,
    int T, int window, float scale, const float* __restrict__ qnorm, const float* __restrict__ knmax, const float* __restrict__ cmin,
    float margin, int* __restrict__ skipped)
{
    typedef Half16<BF16> H;
    constexpr int S = D + 8, SS = PN_BQ + 8, STAGES = BackwardTiles<D>::STAGES;
    constexpr int STAGE = 2 * PN_BQ * S + 3 * 2 * PN_BQ;   // halves per stage: Q and dO tiles, then lse, Δ and c (64 floats each)
    extern __shared__ __align__(16) unsigned char smem[];
    u16* ks = reinterpret_cast<u16*>(smem);  // K [64 keys, D+8]
    u16* vs = ks + PN_BK * S;                 // V [64 keys, D+8]
    u16* dsT = vs + PN_BK * S;                // dS, key-major [64 keys, 64 + 8 queries]
    float* dcqs = reinterpret_cast<float*>(dsT + PN_BK * SS);   // FoX: Σ_keys dS per query of the tile
    u16* stages = reinterpret_cast<u16*>(dcqs + PN_BQ);

    // Grid (BH, key blocks): the first key blocks see the most query tiles and start first.
    const int bh = blockIdx.x, k0 = blockIdx.y * PN_BK;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const size_t base = (size_t)bh * T * D, rowBase = (size_t)bh * T;
    q += base; k += base; v += base; dout += base; dk += base; dv += base; dqAcc += base;
    const float* cumRow = GATED ? cum + rowBase : nullptr;
    const float* lseRow = lse + rowBase;
    const float* deltaRow = delta + rowBase;
    const float scaleLog2 = scale * PN_LOG2E;
    const int key0 = k0 + warp * 16 + g, key1 = key0 + 8;   // this thread's two key rows
    const float ck0 = GATED && key0 < T ? cumRow[key0] * PN_LOG2E : 0.f;
    const float ck1 = GATED && key1 < T ? cumRow[key1] * PN_LOG2E : 0.f;
    if (GATED && threadIdx.x < PN_BQ) dcqs[threadIdx.x] = 0.f;

    float dvAcc[D / 8][4], dkAcc[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j)
    {
        dvAcc[j][0] = dvAcc[j][1] = dvAcc[j][2] = dvAcc[j][3] = 0.f;
        dkAcc[j][0] = dkAcc[j][1] = dkAcc[j][2] = dkAcc[j][3] = 0.f;
    }
    float dck0 = 0.f, dck1 = 0.f;

    const int lastKey = min(k0 + PN_BK, T) - 1;
    const int lastBlock = window > 0 ? min((T - 1) / PN_BQ, (lastKey + window - 1) / PN_BQ) : (T - 1) / PN_BQ;
    // Block skipping: this key block's min c and max ‖k‖; a query tile is skipped when every row's bound lies margin
    // below its log-sum-exp (lse is in the log2 domain). The vote is CTA-wide: every thread calls this for the same tiles.
    const bool skipping = GATED && knmax;
    const float blockC = skipping ? cmin[(size_t)bh * gridDim.y + blockIdx.y] : 0.f;
    const float blockN = skipping ? scale * knmax[(size_t)bh * gridDim.y + blockIdx.y] : 0.f;
    auto visible = [&](int qb) -> bool
    {
        const int q0 = qb * PN_BQ;
        if (!skipping || q0 < k0 + PN_BK) return true;
        const int i = q0 + threadIdx.x;
        const bool below = threadIdx.x >= PN_BQ || i >= T
            || cumRow[i] - blockC + blockN * qnorm[rowBase + i] < lseRow[i] * (1.f / PN_LOG2E) - margin;
        const bool skip = __syncthreads_and(below);
        if (skip && skipped && threadIdx.x == 0) atomicAdd(skipped, 1);
        return !skip;
    };
    auto nextVisible = [&](int qb) -> int { while (qb <= lastBlock && !visible(qb)) ++qb; return qb; };
    // One query tile's Q, dO, lse, Δ (and c) into a stage, asynchronously; rows past T read as zeros.
    auto issue = [&](int qb, int stage)
    {
        u16* qs = stages + stage * STAGE;
        const int q0 = qb * PN_BQ;
        load_tile_async<D>(q, q0, T, qs);
        load_tile_async<D>(dout, q0, T, qs + PN_BQ * S);
        if (threadIdx.x < PN_BQ)
        {
            float* rowValues = reinterpret_cast<float*>(qs + 2 * PN_BQ * S);
            const int i = q0 + threadIdx.x, src = i < T ? i : 0;
            cp_async4(rowValues + threadIdx.x, lseRow + src, i < T);
            cp_async4(rowValues + PN_BQ + threadIdx.x, deltaRow + src, i < T);
            if (GATED) cp_async4(rowValues + 2 * PN_BQ + threadIdx.x, cumRow + src, i < T);
        }
    };

    load_tile_async<D>(k, k0, T, ks);
    load_tile_async<D>(v, k0, T, vs);
    int qb = nextVisible(k0 / PN_BQ), stage = 0;
    if (qb <= lastBlock) issue(qb, 0);
    cp_async_commit();
    while (qb <= lastBlock)
    {
        int next = qb;
        if (STAGES == 2)
        {
            next = nextVisible(qb + 1);
            if (next <= lastBlock) issue(next, stage ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        }
        else
            cp_async_wait<0>();
        __syncthreads();
        const u16* qs = stages + stage * STAGE;
        const u16* os = qs + PN_BQ * S;
        const float* lses = reinterpret_cast<const float*>(qs + 2 * PN_BQ * S);
        const float* deltas = lses + PN_BQ;
        const float* cqs = deltas + PN_BQ;
        const int q0 = qb * PN_BQ;
        const bool edge = q0 < k0 + PN_BK - 1 || q0 + PN_BQ > T || k0 + PN_BK > T || (window > 0 && k0 <= q0 + PN_BQ - 1 - window);

        // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ for this warp's 16 keys against the 64 queries of the tile.
        float p[PN_BQ / 8][4], dp[PN_BQ / 8][4];
#pragma unroll
        for (int j = 0; j < PN_BQ / 8; ++j)
            p[j][0] = p[j][1] = p[j][2] = p[j][3] = dp[j][0] = dp[j][1] = dp[j][2] = dp[j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
        {
            u32 ka[4], va[4];
            a_rows<S>(ka, ks, warp * 16, kk, lane);
            a_rows<S>(va, vs, warp * 16, kk, lane);
#pragma unroll
            for (int j = 0; j < PN_BQ / 8; j += 2)
            {
                u32 bq[4], bo[4];
                b_pair_rows<S>(bq, qs, j, kk, lane);
                b_pair_rows<S>(bo, os, j, kk, lane);
                H::mma(p[j], ka, bq[0], bq[1]);
                H::mma(p[j + 1], ka, bq[2], bq[3]);
                H::mma(dp[j], va, bo[0], bo[1]);
                H::mma(dp[j + 1], va, bo[2], bo[3]);
            }
        }
        // P = 2^(scale·log2e·s + c_i − c_j − lse_i) and dS = P ⊙ (dP − Δ), transposed (rows = keys). Per column
        // (query) the offset c_i − lse_i and Δ_i come from shared memory once for both of the thread's rows.
#pragma unroll
        for (int j = 0; j < PN_BQ / 8; ++j)
        {
            const int col = 8 * j + 2 * t;
            const float2 l2 = *reinterpret_cast<const float2*>(lses + col);
            const float2 d2 = *reinterpret_cast<const float2*>(deltas + col);
            float off[2] = { -l2.x, -l2.y };
            if (GATED)
            {
                const float2 c2 = *reinterpret_cast<const float2*>(cqs + col);
                off[0] = fmaf(c2.x, PN_LOG2E, off[0]);
                off[1] = fmaf(c2.y, PN_LOG2E, off[1]);
            }
#pragma unroll
            for (int e = 0; e < 4; ++e)
            {
                const float x = fmaf(p[j][e], scaleLog2, GATED ? off[e & 1] - (e < 2 ? ck0 : ck1) : off[e & 1]);
                float pr = fast_exp2(x);
                if (edge)
                {
                    const int query = q0 + col + (e & 1), key = e < 2 ? key0 : key1;
                    const bool ok = key <= query && query < T && key < T && (window <= 0 || key > query - window);
                    pr = ok ? pr : 0.f;
                }
                p[j][e] = pr;
                dp[j][e] = pr * (dp[j][e] - ((e & 1) ? d2.y : d2.x));
            }
        }
        // dV += Pᵀ dO and dK += dSᵀ Q (scaled at the end); dS also goes to shared memory, key-major, for dQ = dS K.
        u16* dsRow0 = dsT + (warp * 16 + g) * SS + 2 * t;
        u16* dsRow1 = dsRow0 + 8 * SS;
#pragma unroll
        for (int kk = 0; kk < PN_BQ / 16; ++kk)
        {
            u32 pa[4] = { H::pack(p[2 * kk][0], p[2 * kk][1]), H::pack(p[2 * kk][2], p[2 * kk][3]),
                          H::pack(p[2 * kk + 1][0], p[2 * kk + 1][1]), H::pack(p[2 * kk + 1][2], p[2 * kk + 1][3]) };
            u32 da[4] = { H::pack(dp[2 * kk][0], dp[2 * kk][1]), H::pack(dp[2 * kk][2], dp[2 * kk][3]),
                          H::pack(dp[2 * kk + 1][0], dp[2 * kk + 1][1]), H::pack(dp[2 * kk + 1][2], dp[2 * kk + 1][3]) };
            *reinterpret_cast<u32*>(dsRow0 + 16 * kk) = da[0];
            *reinterpret_cast<u32*>(dsRow1 + 16 * kk) = da[1];
            *reinterpret_cast<u32*>(dsRow0 + 16 * kk + 8) = da[2];
            *reinterpret_cast<u32*>(dsRow1 + 16 * kk + 8) = da[3];
#pragma unroll
            for (int j = 0; j < D / 8; j += 2)
            {
                u32 bo[4], bq[4];
                b_pair_cols<S>(bo, os, j, kk, lane);
                b_pair_cols<S>(bq, qs, j, kk, lane);
                H::mma(dvAcc[j], pa, bo[0], bo[1]);
                H::mma(dvAcc[j + 1], pa, bo[2], bo[3]);
                H::mma(dkAcc[j], da, bq[0], bq[1]);
                H::mma(dkAcc[j + 1], da, bq[2], bq[3]);
            }
        }
        // FoX: dc_i += Σ_j dS_ij (queries, atomically), dc_j −= Σ_i dS_ij (keys, this CTA's own).
        if (GATED)
        {
#pragma unroll
            for (int j = 0; j < PN_BQ / 8; ++j)
            {
                dck0 -= dp[j][0] + dp[j][1];
                dck1 -= dp[j][2] + dp[j][3];
#pragma unroll
                for (int e = 0; e < 2; ++e)
                {
                    float colSum = dp[j][e] + dp[j][e + 2];
                    colSum += __shfl_xor_sync(0xffffffffu, colSum, 4);
                    colSum += __shfl_xor_sync(0xffffffffu, colSum, 8);
                    colSum += __shfl_xor_sync(0xffffffffu, colSum, 16);
                    if (g == 0) atomicAdd(dcqs + 8 * j + 2 * t + e, colSum);
                }
            }
        }
        __syncthreads();
        // dQ rows of this warp: 16 queries × D, summed over the 64 keys, added atomically (other key blocks add too).
        {
            float dq[D / 8][4];
#pragma unroll
            for (int j = 0; j < D / 8; ++j) dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.f;
#pragma unroll
            for (int kk = 0; kk < PN_BK / 16; ++kk)
            {
                u32 a[4];
                a_cols<SS>(a, dsT, warp * 16, kk, lane);
#pragma unroll
                for (int j = 0; j < D / 8; j += 2)
                {
                    u32 b[4];
                    b_pair_cols<S>(b, ks, j, kk, lane);
                    H::mma(dq[j], a, b[0], b[1]);
                    H::mma(dq[j + 1], a, b[2], b[3]);
                }
            }
            const int qr0 = q0 + warp * 16 + g, qr1 = qr0 + 8;
#pragma unroll
            for (int j = 0; j < D / 8; ++j)
            {
                if (qr0 < T) atomic_add2(dqAcc + (size_t)qr0 * D + 8 * j + 2 * t, dq[j][0] * scale, dq[j][1] * scale);
                if (qr1 < T) atomic_add2(dqAcc + (size_t)qr1 * D + 8 * j + 2 * t, dq[j][2] * scale, dq[j][3] * scale);
            }
        }
        if (GATED && threadIdx.x < PN_BQ)
        {
            if (q0 + threadIdx.x < T) atomicAdd(dcumQ + rowBase + q0 + threadIdx.x, dcqs[threadIdx.x]);
            dcqs[threadIdx.x] = 0.f;   // the same thread clears it; the next tile adds only after the next barrier
        }
        __syncthreads();   // every warp is done with this stage and with dS before they are refilled
        if (STAGES == 1)
        {
            next = nextVisible(qb + 1);
            if (next <= lastBlock) issue(next, 0);
            cp_async_commit();
        }
        qb = next;
        stage ^= STAGES - 1;
    }
    cp_async_wait<0>();   // nothing may be in flight into shared memory when the CTA exits (a tile issued, none visible)
#pragma unroll
    for (int j = 0; j < D / 8; ++j)
    {
        if (key0 < T)
        {
            *reinterpret_cast<u32*>(dk + (size_t)key0 * D + 8 * j + 2 * t) = H::pack(dkAcc[j][0] * scale, dkAcc[j][1] * scale);
            *reinterpret_cast<u32*>(dv + (size_t)key0 * D + 8 * j + 2 * t) = H::pack(dvAcc[j][0], dvAcc[j][1]);
        }
        if (key1 < T)
        {
            *reinterpret_cast<u32*>(dk + (size_t)key1 * D + 8 * j + 2 * t) = H::pack(dkAcc[j][2] * scale, dkAcc[j][3] * scale);
            *reinterpret_cast<u32*>(dv + (size_t)key1 * D + 8 * j + 2 * t) = H::pack(dvAcc[j][2], dvAcc[j][3]);
        }
    }
    if (GATED)
    {
        dck0 += __shfl_xor_sync(0xffffffffu, dck0, 1);
        dck0 += __shfl_xor_sync(0xffffffffu, dck0, 2);
        dck1 += __shfl_xor_sync(0xffffffffu, dck1, 1);
        dck1 += __shfl_xor_sync(0xffffffffu, dck1, 2);
        if (t == 0)
        {
            if (key0 < T) dcumK[rowBase + key0] = dck0;
            if (key1 < T) dcumK[rowBase + key1] = dck1;
        }
    }
}

// Δ_i = Σ_d dO_i,d · O_i,d in float32, the backward's per-row term: grid ⌈rows / 8⌉, 256 threads, a warp per row.
template <bool BF16, int D>
static __device__ __forceinline__ void attention_delta(const u16* __restrict__ dout, const u16* __restrict__ o, float* __restrict__ delta, int rows)
{
    typedef Half16<BF16> H;
    const int row = blockIdx.x * 8 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    const u16* a = dout + (size_t)row * D;
    const u16* b = o + (size_t)row * D;
    float sum = 0.f;
#pragma unroll
    for (int d = 2 * lane; d < D; d += 64)
    {
        const u32 x = ld32(a + d), y = ld32(b + d);
        sum += H::value((u16)(x & 0xffffu)) * H::value((u16)(y & 0xffffu)) + H::value((u16)(x >> 16)) * H::value((u16)(y >> 16));
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) delta[row] = sum;
}

// skip statistics: grid (⌈T/64⌉, BH), 64 threads, one row each. What block skipping reads: qnorm, diag [BH, T] and
// knmax, cmin [BH, ⌈T/64⌉] (see the top of this file). One pass over q and k, before the forward.
template <bool BF16, int D>
static __device__ __forceinline__ void skip_statistics(const u16* __restrict__ q, const u16* __restrict__ k, const float* __restrict__ cum,
                                                       float* __restrict__ qnorm, float* __restrict__ diag, float* __restrict__ knmax,
                                                       float* __restrict__ cmin, int T, float scale)
{
    typedef Half16<BF16> H;
    __shared__ float warpMax[2], warpMin[2];
    const int bh = blockIdx.y, row = blockIdx.x * PN_BK + threadIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const size_t rowBase = (size_t)bh * T;
    float keyNorm = 0.f, c = __int_as_float(0x7f800000);           // +∞: a row past T never lowers the minimum
    if (row < T)
    {
        const u16* qr = q + (rowBase + row) * D;
        const u16* kr = k + (rowBase + row) * D;
        float qq = 0.f, kk = 0.f, qk = 0.f;
#pragma unroll 8
        for (int d = 0; d < D; ++d)
        {
            const float a = H::value(qr[d]), b = H::value(kr[d]);
            qq += a * a;
            kk += b * b;
            qk += a * b;
        }
        qnorm[rowBase + row] = sqrtf(qq);
        diag[rowBase + row] = scale * qk;
        keyNorm = sqrtf(kk);
        c = cum[rowBase + row];
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
    {
        keyNorm = fmaxf(keyNorm, __shfl_xor_sync(0xffffffffu, keyNorm, off));
        c = fminf(c, __shfl_xor_sync(0xffffffffu, c, off));
    }
    if (lane == 0) { warpMax[warp] = keyNorm; warpMin[warp] = c; }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        const size_t block = (size_t)bh * gridDim.x + blockIdx.x;
        knmax[block] = fmaxf(warpMax[0], warpMax[1]);
        cmin[block] = fminf(warpMin[0], warpMin[1]);
    }
}

// Entry points, 128 threads each: pn_attention_forward_{bf16,fp16}_d{64,128}: grid (BH, ⌈T/BQ⌉) with BQ = 128 queries
// at D = 64 and 64 at D = 128; dynamic shared memory 2 stages × (2·64·(D+8) halves + 64 floats).
// pn_attention_backward_*: grid (BH, ⌈T/64⌉); dynamic shared memory 2·64·(D+8) + 64·72 halves + 64 floats, then
// STAGES (2 at D = 64, 1 at D = 128) × (2·64·(D+8) halves + 3·64 floats).
// qnorm, diag, knmax, cmin and skipped may be null (no block skipping, or no count); skipping needs cum too. cum null:
// the ungated (causal / window) kernels.
// pn_attention_delta_*: Δ = rowsum(dO ∘ O) for rows = BH·T rows; grid ⌈rows/8⌉, 256 threads, no shared memory.
// pn_attention_skipstats_{bf16,fp16}_d{64,128}: grid (⌈T/64⌉, BH), 64 threads, no dynamic shared memory.
#define PN_ENTRIES(TAG, BF16, D)                                                                                      \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_attention_forward_##TAG##_d##D(                      \
        const u16* q, const u16* k, const u16* v, const float* cum, u16* o, float* lse, int T, int window, float scale, \
        const float* qnorm, const float* diag, const float* knmax, const float* cmin, float margin, int* skipped)    \
    {                                                                                                                 \
        if (cum) attention_forward<BF16, D, true>(q, k, v, cum, o, lse, T, window, scale, qnorm, diag, knmax, cmin, margin, skipped); \
        else attention_forward<BF16, D, false>(q, k, v, cum, o, lse, T, window, scale, qnorm, diag, knmax, cmin, margin, skipped); \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_attention_backward_##TAG##_d##D(                     \
        const u16* q, const u16* k, const u16* v, const float* cum, const u16* dout, const float* lse,                \
        const float* delta, float* dqAcc, u16* dk, u16* dv, float* dcumQ, float* dcumK, int T, int window, float scale, \
        const float* qnorm, const float* knmax, const float* cmin, float margin, int* skipped)                       \
    {                                                                                                                 \
        if (cum) attention_backward<BF16, D, true>(q, k, v, cum, dout, lse, delta, dqAcc, dk, dv, dcumQ, dcumK, T, window, scale, \
                                                   qnorm, knmax, cmin, margin, skipped);                              \
        else attention_backward<BF16, D, false>(q, k, v, cum, dout, lse, delta, dqAcc, dk, dv, dcumQ, dcumK, T, window, scale, \
                                                qnorm, knmax, cmin, margin, skipped);                                 \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(256) pn_attention_delta_##TAG##_d##D(                                \
        const u16* dout, const u16* o, float* delta, int rows)                                                        \
    {                                                                                                                 \
        attention_delta<BF16, D>(dout, o, delta, rows);                                                               \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(64) pn_attention_skipstats_##TAG##_d##D(                             \
        const u16* q, const u16* k, const float* cum, float* qnorm, float* diag, float* knmax, float* cmin, int T, float scale) \
    {                                                                                                                 \
        skip_statistics<BF16, D>(q, k, cum, qnorm, diag, knmax, cmin, T, scale);                                      \
    }

PN_ENTRIES(bf16, true, 64)
PN_ENTRIES(fp16, false, 64)
PN_ENTRIES(bf16, true, 128)
PN_ENTRIES(fp16, false, 128)
