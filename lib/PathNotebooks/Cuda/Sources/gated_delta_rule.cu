// The gated delta rule's chunked forward in three fused kernels (Gated DeltaNet; the kit's GatedDeltaRule.Chunked
// computes the same thing with libtorch ops). Per head a state S [DK, DV] (keys index rows):
//   S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ,   o_t = scale · S_tᵀ q_t,   α_t = exp(g_t).
// Chunks of C = 64 tokens. With γ the chunk-local inclusive cumulative sum of g and Γ_rs = exp(γ_r − γ_s) (r ≥ s):
//   A = strictLower(diag(β)(K Kᵀ) ⊙ Γ),  [W | U] = (I + A)⁻¹ [diag(β)(exp(γ) ⊙ K) | diag(β) V]     (prepare)
//   V' = U − W S_n,  S_{n+1} = exp(γ_C) S_n + (exp(γ_C − γ) ⊙ K)ᵀ V'                                  (sweep)
//   O = scale · [(exp(γ) ⊙ Q) S_n + (Q Kᵀ ⊙ Γ, causal incl. the diagonal) V']                          (output)
// The first and last kernels run on every chunk at once; only the sweep walks the chunks in order, one CTA per head
// and slice of 32 value columns. Every matrix product runs on tensor cores as TF32 (mma.sync m16n8k8, float32
// accumulation); the triangular solve and all element-wise work are float32. Compiled at run time by NVRTC (no CUDA
// headers: 16-bit values travel as raw bit patterns and are converted with PTX).
//
// Shapes (contiguous, row-major; BH = batch·heads): q, k [BH, T, DK], v [BH, T, DV], o [BH, T, DV] in the input type
// (float32, bf16 or fp16); g, beta [BH, T] float32. Work buffers, float32, NP = ⌈T/64⌉·64 padded rows:
// w [BH, NP, DK], u [BH, NP, DV], gamma [BH, NP], vnew [BH, NP, DV], starts [BH, N, DK, DV] (S_n, the state at the
// start of chunk n); h0 (optional) and hT [BH, DK, DV]. Rows at or past T read as k = q = v = 0, β = 0, g = 0: identity
// transitions, so the padded tail of the last chunk leaves the state alone.
// Every CTA runs 4 warps; in the chunk-row products a warp owns 16 of the 64 rows.

typedef unsigned short u16;
typedef unsigned int u32;

#define PN_C 64
#define PN_THREADS 128
#define PN_BV 32

// Input types: 0 float32, 1 bf16, 2 fp16.
template <int IN> struct Io;
template <> struct Io<0>
{
    typedef float T;
    static __device__ __forceinline__ float load(const T* p, size_t i) { return p[i]; }
    static __device__ __forceinline__ void store(T* p, size_t i, float x) { p[i] = x; }
};
template <> struct Io<1>
{
    typedef u16 T;
    static __device__ __forceinline__ float load(const T* p, size_t i) { return __uint_as_float(((u32)p[i]) << 16); }
    static __device__ __forceinline__ void store(T* p, size_t i, float x)
    {
        u16 r;
        asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
        p[i] = r;
    }
};
template <> struct Io<2>
{
    typedef u16 T;
    static __device__ __forceinline__ float load(const T* p, size_t i)
    {
        float f;
        asm("{ .reg .b16 h; mov.b16 h, %1; cvt.f32.f16 %0, h; }" : "=f"(f) : "h"(p[i]));
        return f;
    }
    static __device__ __forceinline__ void store(T* p, size_t i, float x)
    {
        u16 r;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
        p[i] = r;
    }
};

static __device__ __forceinline__ u32 tf32(float x)
{
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

static __device__ __forceinline__ void mma_tf32(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// acc[j] += A · B for a 16 × 8NT tile of the product, K a multiple of 8; A(m, k) = a[m·ars + k·acs] (m < 16),
// B(k, n) = b[k·brs + n·bcs] (n < 8NT), both in shared memory. Fragment j, register e holds the product's element
// (g + 8(e / 2), 8j + 2t + e % 2) with g = lane / 4, t = lane % 4. Bank-conflict-free when the stride that multiplies g
// is ≡ 4 (mod 32) for A and ≡ 4 for B read as [n][k], or the stride that multiplies t is ≡ 8 (mod 32).
template <int NT>
static __device__ __forceinline__ void mma_k8(float (*acc)[4], const float* a, int ars, int acs, const float* b, int brs, int bcs, int g, int t, int k0)
{
    // One step of 8 along the reduction: columns k0 … k0 + 7 of A against rows k0 … k0 + 7 of B.
    const u32 a0 = tf32(a[g * ars + (k0 + t) * acs]), a1 = tf32(a[(g + 8) * ars + (k0 + t) * acs]);
    const u32 a2 = tf32(a[g * ars + (k0 + t + 4) * acs]), a3 = tf32(a[(g + 8) * ars + (k0 + t + 4) * acs]);
#pragma unroll
    for (int j = 0; j < NT; j++)
    {
        const u32 b0 = tf32(b[(k0 + t) * brs + (8 * j + g) * bcs]), b1 = tf32(b[(k0 + t + 4) * brs + (8 * j + g) * bcs]);
        mma_tf32(acc[j], a0, a1, a2, a3, b0, b1);
    }
}

template <int NT, int K>
static __device__ __forceinline__ void warp_mma(float (*acc)[4], const float* a, int ars, int acs, const float* b, int brs, int bcs, int lane)
{
    const int g = lane >> 2, t = lane & 3;
#pragma unroll 2
    for (int k0 = 0; k0 < K; k0 += 8) mma_k8<NT>(acc, a, ars, acs, b, brs, bcs, g, t, k0);
}

template <int NT>
static __device__ __forceinline__ void zero(float (*acc)[4])
{
#pragma unroll
    for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
}

static __device__ __forceinline__ u32 shared_address(const void* p)
{
    u32 a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 16 bytes global → shared without passing through registers (sm_80+); valid = false writes 16 zero bytes.
static __device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}
static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int PENDING>
static __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(PENDING)); }

// Four consecutive elements of x (input type) at index i (a multiple of 4) as floats, in one load.
template <int IN>
static __device__ __forceinline__ float4 load4(const typename Io<IN>::T* x, size_t i)
{
    if constexpr (IN == 0) return *reinterpret_cast<const float4*>(x + i);
    else
    {
        const uint2 raw = *reinterpret_cast<const uint2*>(x + i);
        const u16* h = reinterpret_cast<const u16*>(&raw);
        return make_float4(Io<IN>::load(h, 0), Io<IN>::load(h, 1), Io<IN>::load(h, 2), Io<IN>::load(h, 3));
    }
}

// Rows [row0, row0 + 64) of x [·, D] (input type) into shared float32 rows of stride S (a multiple of 4); rows at or
// past T are zero. Four elements per load and several loads in flight per thread.
template <int IN, int D>
static __device__ __forceinline__ void load_rows(const typename Io<IN>::T* __restrict__ x, int row0, int T, float* dst, int S)
{
#pragma unroll 4
    for (int idx = threadIdx.x; idx < PN_C * D / 4; idx += PN_THREADS)
    {
        const int r = idx / (D / 4), c = 4 * (idx % (D / 4));
        const float4 val = row0 + r < T ? load4<IN>(x, (size_t)(row0 + r) * D + c) : make_float4(0.f, 0.f, 0.f, 0.f);
        *reinterpret_cast<float4*>(dst + r * S + c) = val;
    }
}

// R rows × D columns of float32 from src (row stride SRC) into shared rows of stride S (both multiples of 4).
template <int R, int D>
static __device__ __forceinline__ void copy_f32(const float* __restrict__ src, int SRC, float* dst, int S)
{
#pragma unroll 4
    for (int idx = threadIdx.x; idx < R * D / 4; idx += PN_THREADS)
    {
        const int r = idx / (D / 4), c = 4 * (idx % (D / 4));
        *reinterpret_cast<float4*>(dst + r * S + c) = *reinterpret_cast<const float4*>(src + (size_t)r * SRC + c);
    }
}

// acc[j] += A · B as warp_mma, with the reduction length K (a multiple of 8) known only at run time.
template <int NT>
static __device__ __forceinline__ void warp_mma_n(float (*acc)[4], const float* a, int ars, int acs, const float* b, int brs, int bcs, int lane, int K)
{
    const int g = lane >> 2, t = lane & 3;
    for (int k0 = 0; k0 < K; k0 += 8) mma_k8<NT>(acc, a, ars, acs, b, brs, bcs, g, t, k0);
}

// The warp's 16 rows of a 64×64 decayed score tile: out[r][s] = f_r · exp(γ_r − γ_s) · (X Kᵀ)[r][s] for s < r
// (DIAG: s ≤ r), else 0; f_r = factor[r], or `uniform` when factor is null. X [64][DK] (stride SX), K [64][DK]
// (stride SK) and γ in shared memory.
template <int DK, bool DIAG>
static __device__ __forceinline__ void decayed_scores(const float* x, int SX, const float* ks, int SK, const float* gs,
                                                      const float* factor, float uniform, float* out, int SO, int warp, int lane)
{
    const int gr = lane >> 2, t = lane & 3;
    float acc[8][4];
    zero<8>(acc);
    warp_mma<8, DK>(acc, x + 16 * warp * SX, SX, 1, ks, 1, SK, lane);
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++)
        {
            const int r = 16 * warp + gr + 8 * (e >> 1), s = 8 * j + 2 * t + (e & 1);
            const bool kept = DIAG ? s <= r : s < r;
            out[r * SO + s] = kept ? (factor ? factor[r] : uniform) * __expf(gs[r] - gs[s]) * acc[j][e] : 0.f;
        }
}

// Chunk-local γ (inclusive cumulative sum of g) and β of chunk rows [row0, row0 + 64); rows at or past T get g = β = 0.
static __device__ __forceinline__ void load_gates(const float* __restrict__ g, const float* __restrict__ beta, int row0, int T,
                                                  float* gamma_s, float* beta_s)
{
    if (threadIdx.x < 32)
    {
        // Two values per lane, then a warp-wide inclusive scan of the pair sums.
        const int lane = threadIdx.x, r0 = row0 + 2 * lane;
        const float g0 = r0 < T ? g[r0] : 0.f, g1 = r0 + 1 < T ? g[r0 + 1] : 0.f;
        float sum = g0 + g1;
#pragma unroll
        for (int off = 1; off < 32; off <<= 1)
        {
            const float other = __shfl_up_sync(0xffffffffu, sum, off);
            if (lane >= off) sum += other;
        }
        gamma_s[2 * lane] = sum - g1;
        gamma_s[2 * lane + 1] = sum;
    }
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS) beta_s[r] = row0 + r < T ? beta[row0 + r] : 0.f;
}

// prepare: grid (N, BH). [W | U] of every chunk: (I + A) X = R solved in four blocks of 16 rows — the coupling to
// the blocks above by one tensor-core product, then a 16-row forward substitution inside the block.
// Shared: k [64][DK+4], A [64][68], x [64][DK+DV+8], γ [64], β [64] (floats).
template <int IN, int DK, int DV>
static __device__ __forceinline__ void prepare(const typename Io<IN>::T* __restrict__ k, const typename Io<IN>::T* __restrict__ v,
                                               const float* __restrict__ g, const float* __restrict__ beta,
                                               float* __restrict__ w, float* __restrict__ u, float* __restrict__ gamma, int T)
{
    extern __shared__ float smem[];
    constexpr int SK = DK + 4, SA = PN_C + 4, NX = DK + DV, SX = NX + 8, CW = NX / 4;
    float* ks = smem;
    float* as = ks + PN_C * SK;
    float* xs = as + PN_C * SA;
    float* gs = xs + PN_C * SX;
    float* bs = gs + PN_C;
    const int chunk = blockIdx.x, bh = blockIdx.y, row0 = chunk * PN_C, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int NP = gridDim.x * PN_C, gr = lane >> 2, t = lane & 3;
    k += (size_t)bh * T * DK;
    v += (size_t)bh * T * DV;
    g += (size_t)bh * T;
    beta += (size_t)bh * T;

    load_rows<IN, DK>(k, row0, T, ks, SK);
    load_rows<IN, DV>(v, row0, T, xs + DK, SX);
    load_gates(g, beta, row0, T, gs, bs);
    __syncthreads();
    // Right-hand sides [β exp(γ) k | β v], in place.
    for (int idx = threadIdx.x; idx < PN_C * NX; idx += PN_THREADS)
    {
        const int r = idx / NX, c = idx % NX;
        xs[r * SX + c] = c < DK ? bs[r] * __expf(gs[r]) * ks[r * SK + c] : bs[r] * xs[r * SX + c];
    }
    // A = strictLower(diag(β)(K Kᵀ) ⊙ Γ): warp `warp` owns rows 16·warp…
    decayed_scores<DK, false>(ks, SK, ks, SK, gs, bs, 1.f, as, SA, warp, lane);
    __syncthreads();
    for (int blk = 0; blk < PN_C / 16; blk++)
    {
        const int top = 16 * blk;
        if (blk > 0)
        {
            // X_blk −= A[blk, <blk] X[<blk]: warp `warp` owns columns [warp·CW, (warp+1)·CW).
            float acc[CW / 8][4];
            zero<CW / 8>(acc);
            warp_mma_n<CW / 8>(acc, as + top * SA, SA, 1, xs + warp * CW, SX, 1, lane, top);
#pragma unroll
            for (int j = 0; j < CW / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                {
                    const int r = top + gr + 8 * (e >> 1), c = warp * CW + 8 * j + 2 * t + (e & 1);
                    xs[r * SX + c] -= acc[j][e];
                }
            __syncthreads();
        }
        // Forward substitution inside the block; a thread owns whole columns, so no barrier inside.
        for (int c = threadIdx.x; c < NX; c += PN_THREADS)
        {
            float col[16];
#pragma unroll
            for (int r = 0; r < 16; r++) col[r] = xs[(top + r) * SX + c];
#pragma unroll
            for (int r = 1; r < 16; r++)
            {
                float x = col[r];
#pragma unroll
                for (int s = 0; s < r; s++) x -= as[(top + r) * SA + top + s] * col[s];
                col[r] = x;
            }
#pragma unroll
            for (int r = 1; r < 16; r++) xs[(top + r) * SX + c] = col[r];
        }
        __syncthreads();
    }
    w += ((size_t)bh * NP + row0) * DK;
    u += ((size_t)bh * NP + row0) * DV;
    for (int idx = threadIdx.x; idx < PN_C * DK / 4; idx += PN_THREADS)
    {
        const int r = idx / (DK / 4), c = 4 * (idx % (DK / 4));
        *reinterpret_cast<float4*>(w + r * DK + c) = *reinterpret_cast<const float4*>(xs + r * SX + c);
    }
    for (int idx = threadIdx.x; idx < PN_C * DV / 4; idx += PN_THREADS)
    {
        const int r = idx / (DV / 4), c = 4 * (idx % (DV / 4));
        *reinterpret_cast<float4*>(u + r * DV + c) = *reinterpret_cast<const float4*>(xs + r * SX + DK + c);
    }
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS) gamma[(size_t)bh * NP + row0 + r] = gs[r];
}

// sweep: grid (DV / 32, BH). The chunk recurrence for 32 value columns of one head. The next chunk's w, u, k and γ
// are copied into the second half of double buffers (cp.async) while this chunk computes.
// Shared: w [2][64][DK+4], u/v' [2][64][40], γ [2][64], k̃ [64][DK+8], S [DK][40] (floats), raw k [2][64·DK] (input type).
template <int IN, int DK, int DV>
static __device__ __forceinline__ void sweep(const typename Io<IN>::T* __restrict__ k, const float* __restrict__ w,
                                             const float* __restrict__ u, const float* __restrict__ gamma,
                                             const float* __restrict__ h0, float* __restrict__ vnew,
                                             float* __restrict__ starts, float* __restrict__ hT, int T)
{
    typedef typename Io<IN>::T In;
    extern __shared__ float smem[];
    constexpr int SW = DK + 4, SK = DK + 8, SV = PN_BV + 8;
    constexpr int PER16 = 16 / sizeof(In);                 // input elements per 16-byte copy
    float* ws = smem;                                      // 2 × 64·SW
    float* vs = ws + 2 * PN_C * SW;                        // 2 × 64·SV
    float* gs = vs + 2 * PN_C * SV;                        // 2 × 64
    float* kt = gs + 2 * PN_C;                             // 64·SK
    float* ss = kt + PN_C * SK;                            // DK·SV
    In* kraw = reinterpret_cast<In*>(ss + DK * SV);        // 2 × 64·DK
    const int col0 = blockIdx.x * PN_BV, bh = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int chunks = (T + PN_C - 1) / PN_C, NP = chunks * PN_C;
    const int gr = lane >> 2, t = lane & 3;
    k += (size_t)bh * T * DK;
    w += (size_t)bh * NP * DK;
    u += (size_t)bh * NP * DV;
    gamma += (size_t)bh * NP;
    vnew += (size_t)bh * NP * DV;
    starts += (size_t)bh * chunks * DK * DV;

    auto issue = [&](int n, int buf) {
        const int row0 = n * PN_C;
        for (int idx = threadIdx.x; idx < PN_C * DK / 4; idx += PN_THREADS)
        {
            const int r = idx / (DK / 4), c = 4 * (idx % (DK / 4));
            cp_async16(ws + buf * PN_C * SW + r * SW + c, w + (size_t)(row0 + r) * DK + c, true);
        }
        for (int idx = threadIdx.x; idx < PN_C * PN_BV / 4; idx += PN_THREADS)
        {
            const int r = idx / (PN_BV / 4), c = 4 * (idx % (PN_BV / 4));
            cp_async16(vs + buf * PN_C * SV + r * SV + c, u + (size_t)(row0 + r) * DV + col0 + c, true);
        }
        for (int idx = threadIdx.x; idx < PN_C * DK / PER16; idx += PN_THREADS)
        {
            const int r = idx / (DK / PER16), c = PER16 * (idx % (DK / PER16));
            const bool valid = row0 + r < T;
            cp_async16(kraw + buf * PN_C * DK + r * DK + c, k + (size_t)(valid ? row0 + r : 0) * DK + c, valid);
        }
        if (threadIdx.x < PN_C / 4) cp_async16(gs + buf * PN_C + 4 * threadIdx.x, gamma + row0 + 4 * threadIdx.x, true);
        cp_async_commit();
    };

    for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
    {
        const int r = idx / PN_BV, c = idx % PN_BV;
        ss[r * SV + c] = h0 ? h0[((size_t)bh * DK + r) * DV + col0 + c] : 0.f;
    }
    issue(0, 0);
    for (int n = 0; n < chunks; n++)
    {
        const int row0 = n * PN_C, buf = n & 1;
        __syncthreads();   // every warp is done with the buffers of chunk n − 1 (and S is updated)
        if (n + 1 < chunks) { issue(n + 1, buf ^ 1); cp_async_wait<1>(); }
        else cp_async_wait<0>();
        __syncthreads();   // chunk n's copies are visible to every thread
        const float* wb = ws + buf * PN_C * SW;
        float* vb = vs + buf * PN_C * SV;
        const float* gb = gs + buf * PN_C;
        const In* kb = kraw + buf * PN_C * DK;
        const float last = gb[PN_C - 1];
        for (int idx = threadIdx.x; idx < PN_C * DK; idx += PN_THREADS)
        {
            const int r = idx / DK, c = idx % DK;
            kt[r * SK + c] = __expf(last - gb[r]) * Io<IN>::load(kb, idx);
        }
        for (int idx = threadIdx.x; idx < DK * PN_BV / 4; idx += PN_THREADS)
        {
            const int r = idx / (PN_BV / 4), c = 4 * (idx % (PN_BV / 4));
            *reinterpret_cast<float4*>(starts + ((size_t)n * DK + r) * DV + col0 + c) = *reinterpret_cast<const float4*>(ss + r * SV + c);
        }
        // v' = u − W S: warp `warp` owns rows 16·warp…
        {
            float acc[PN_BV / 8][4];
            zero<PN_BV / 8>(acc);
            warp_mma<PN_BV / 8, DK>(acc, wb + 16 * warp * SW, SW, 1, ss, SV, 1, lane);
#pragma unroll
            for (int j = 0; j < PN_BV / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                {
                    const int r = 16 * warp + gr + 8 * (e >> 1), c = 8 * j + 2 * t + (e & 1);
                    const float x = vb[r * SV + c] - acc[j][e];
                    vb[r * SV + c] = x;
                    vnew[(size_t)(row0 + r) * DV + col0 + c] = x;
                }
        }
        __syncthreads();   // v' and k̃ complete; every warp has read S
        // S ← exp(γ_C) S + k̃ᵀ v': 16-row tiles of S, spread over the warps.
        const float decay = __expf(last);
        for (int tile = warp; tile < DK / 16; tile += PN_THREADS / 32)
        {
            float acc[PN_BV / 8][4];
            zero<PN_BV / 8>(acc);
            warp_mma<PN_BV / 8, PN_C>(acc, kt + 16 * tile, 1, SK, vb, SV, 1, lane);
#pragma unroll
            for (int j = 0; j < PN_BV / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                {
                    const int r = 16 * tile + gr + 8 * (e >> 1), c = 8 * j + 2 * t + (e & 1);
                    ss[r * SV + c] = decay * ss[r * SV + c] + acc[j][e];
                }
        }
    }
    __syncthreads();
    if (hT)
        for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
        {
            const int r = idx / PN_BV, c = idx % PN_BV;
            hT[((size_t)bh * DK + r) * DV + col0 + c] = ss[r * SV + c];
        }
}

// output: grid (N, BH). O of one chunk from its start state and v'.
// Shared: q [64][DK+4], k [64][DK+4], P [64][68], S [DK][DV+8], v' [64][DV+8], γ [64] (floats).
template <int IN, int DK, int DV>
static __device__ __forceinline__ void output(const typename Io<IN>::T* __restrict__ q, const typename Io<IN>::T* __restrict__ k,
                                              const float* __restrict__ gamma, const float* __restrict__ vnew,
                                              const float* __restrict__ starts, typename Io<IN>::T* __restrict__ o, int T, float scale)
{
    extern __shared__ float smem[];
    constexpr int SQ = DK + 4, SP = PN_C + 4, SS = DV + 8;
    float* qs = smem;
    float* ks = qs + PN_C * SQ;
    float* ps = ks + PN_C * SQ;
    float* ss = ps + PN_C * SP;
    float* vs = ss + DK * SS;
    float* gs = vs + PN_C * SS;
    const int chunk = blockIdx.x, bh = blockIdx.y, row0 = chunk * PN_C, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int chunks = gridDim.x, NP = chunks * PN_C;
    const int gr = lane >> 2, t = lane & 3;
    q += (size_t)bh * T * DK;
    k += (size_t)bh * T * DK;
    o += (size_t)bh * T * DV;
    load_rows<IN, DK>(q, row0, T, qs, SQ);
    load_rows<IN, DK>(k, row0, T, ks, SQ);
    copy_f32<DK, DV>(starts + ((size_t)bh * chunks + chunk) * DK * DV, DV, ss, SS);
    copy_f32<PN_C, DV>(vnew + ((size_t)bh * NP + row0) * DV, DV, vs, SS);
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS) gs[r] = gamma[(size_t)bh * NP + row0 + r];
    __syncthreads();
    // P = scale (Q Kᵀ ⊙ Γ), causal including the diagonal; a warp reads back only its own rows.
    decayed_scores<DK, true>(qs, SQ, ks, SQ, gs, nullptr, scale, ps, SP, warp, lane);
    __syncwarp();
    float acc[DV / 8][4];
    zero<DV / 8>(acc);
    warp_mma<DV / 8, DK>(acc, qs + 16 * warp * SQ, SQ, 1, ss, SS, 1, lane);   // Q S
    const float top = scale * __expf(gs[16 * warp + gr]), bottom = scale * __expf(gs[16 * warp + gr + 8]);
#pragma unroll
    for (int j = 0; j < DV / 8; j++)
    {
        acc[j][0] *= top; acc[j][1] *= top; acc[j][2] *= bottom; acc[j][3] *= bottom;
    }
    warp_mma<DV / 8, PN_C>(acc, ps + 16 * warp * SP, SP, 1, vs, SS, 1, lane); // + P v'
#pragma unroll
    for (int j = 0; j < DV / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++)
        {
            const int r = 16 * warp + gr + 8 * (e >> 1), c = 8 * j + 2 * t + (e & 1);
            if (row0 + r < T) Io<IN>::store(o, (size_t)(row0 + r) * DV + c, acc[j][e]);
        }
}

// ---- Backward ----------------------------------------------------------------------------------------------------
// The gradients of O (and of the final state) with respect to q, k, v, g and β, from the forward's work buffers
// (w, u, γ, v', starts), chunks of 64 again. dS' is the gradient of a chunk's end state (zero after the last):
//   local:  dV'_loc = Pᵀ dO with P = scale (Q Kᵀ ⊙ Γ, causal incl. the diagonal)                      (every chunk)
//   dsweep: dV' = dV'_loc + (e^{γ_C − γ} ⊙ K) dS',  dS = e^{γ_C} dS' + (scale e^γ ⊙ Q)ᵀ dO − Wᵀ dV'  (chunks in reverse)
//   dchunk: everything else for every chunk at once: dQ and dK through O and S', dW = −dV' Sᵀ, then the UT transform
//           backwards, [dKβ | dVβ] = (I + A)⁻ᵀ [dW | dV'] (back substitution) and dA = −strictLower(dKβ Wᵀ + dVβ Uᵀ);
//           every factor exp(γ_i − γ_j) sends its gradient to γ_i and minus it to γ_j; dg is the reverse
//           cumulative sum of dγ within the chunk.
// Plain float32 FMA arithmetic (no tensor cores): the gradients are accumulated in float32 and written as float32
// [BH, T, ·]. Shared rows are padded by one float so that threads walking rows hit different banks.

// local: grid (N, BH). dvnew [BH, NP, DV] ← Pᵀ dO of every chunk.
// Shared: q [64][DK+1], k [64][DK+1], P [64][65], dO [64][DV+1], γ [64].
template <int IN, int DK, int DV>
static __device__ __forceinline__ void bwd_local(const typename Io<IN>::T* __restrict__ q, const typename Io<IN>::T* __restrict__ k,
                                                 const typename Io<IN>::T* __restrict__ dout, const float* __restrict__ gamma,
                                                 float* __restrict__ dvnew, int T, float scale)
{
    extern __shared__ float smem[];
    constexpr int SK = DK + 1, SV = DV + 1, SC = PN_C + 1;
    float* qs = smem;
    float* ks = qs + PN_C * SK;
    float* ps = ks + PN_C * SK;
    float* os = ps + PN_C * SC;
    float* gs = os + PN_C * SV;
    const int chunk = blockIdx.x, bh = blockIdx.y, row0 = chunk * PN_C, NP = gridDim.x * PN_C;
    q += (size_t)bh * T * DK;
    k += (size_t)bh * T * DK;
    dout += (size_t)bh * T * DV;
    for (int idx = threadIdx.x; idx < PN_C * DK; idx += PN_THREADS)
    {
        const int r = idx / DK, c = idx % DK;
        const bool valid = row0 + r < T;
        qs[r * SK + c] = valid ? Io<IN>::load(q, (size_t)(row0 + r) * DK + c) : 0.f;
        ks[r * SK + c] = valid ? Io<IN>::load(k, (size_t)(row0 + r) * DK + c) : 0.f;
    }
    for (int idx = threadIdx.x; idx < PN_C * DV; idx += PN_THREADS)
    {
        const int r = idx / DV, c = idx % DV;
        os[r * SV + c] = row0 + r < T ? Io<IN>::load(dout, (size_t)(row0 + r) * DV + c) : 0.f;
    }
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS) gs[r] = gamma[(size_t)bh * NP + row0 + r];
    __syncthreads();
    for (int idx = threadIdx.x; idx < PN_C * PN_C; idx += PN_THREADS)
    {
        const int r = idx / PN_C, s = idx % PN_C;
        float x = 0.f;
        if (s <= r)
        {
#pragma unroll 8
            for (int d = 0; d < DK; d++) x += qs[r * SK + d] * ks[s * SK + d];
            x *= scale * __expf(gs[r] - gs[s]);
        }
        ps[r * SC + s] = x;
    }
    __syncthreads();
    dvnew += ((size_t)bh * NP + row0) * DV;
    for (int idx = threadIdx.x; idx < PN_C * DV; idx += PN_THREADS)
    {
        const int s = idx / DV, c = idx % DV;
        float x = 0.f;
        for (int r = s; r < PN_C; r++) x += ps[r * SC + s] * os[r * SV + c];
        dvnew[(size_t)s * DV + c] = x;
    }
}

// dsweep: grid (DV / 32, BH). Chunks in reverse for 32 value columns of one head (dS' = 0 after the last chunk: the
// output is what is differentiated, not the final state): dvnew (holding Pᵀ dO) becomes dV',
// dnext [BH, N, DK, DV] gets every chunk's dS', dh0 (optional) the gradient of the initial state.
// Shared: scale e^γ q [64][DK+1], e^{γ_C − γ} k [64][DK+1], W [64][DK+1], dO [64][33], dV' [64][33], dS [DK][33].
template <int IN, int DK, int DV>
static __device__ __forceinline__ void bwd_sweep(const typename Io<IN>::T* __restrict__ q, const typename Io<IN>::T* __restrict__ k,
                                                 const typename Io<IN>::T* __restrict__ dout, const float* __restrict__ w,
                                                 const float* __restrict__ gamma, float* __restrict__ dvnew, float* __restrict__ dnext, float* __restrict__ dh0,
                                                 int T, float scale)
{
    extern __shared__ float smem[];
    constexpr int SK = DK + 1, SV = PN_BV + 1;
    float* qd = smem;
    float* kd = qd + PN_C * SK;
    float* ws = kd + PN_C * SK;
    float* os = ws + PN_C * SK;
    float* dvs = os + PN_C * SV;
    float* dss = dvs + PN_C * SV;
    const int col0 = blockIdx.x * PN_BV, bh = blockIdx.y;
    const int chunks = (T + PN_C - 1) / PN_C, NP = chunks * PN_C;
    q += (size_t)bh * T * DK;
    k += (size_t)bh * T * DK;
    dout += (size_t)bh * T * DV;
    w += (size_t)bh * NP * DK;
    gamma += (size_t)bh * NP;
    dvnew += (size_t)bh * NP * DV;
    dnext += (size_t)bh * chunks * DK * DV;
    for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
    {
        const int r = idx / PN_BV, c = idx % PN_BV;
        dss[r * SV + c] = 0.f;                         // the final state carries no gradient
    }
    for (int n = chunks - 1; n >= 0; n--)
    {
        const int row0 = n * PN_C;
        __syncthreads();   // the previous chunk is done with the buffers, and dS is updated
        const float last = gamma[row0 + PN_C - 1];
        for (int idx = threadIdx.x; idx < PN_C * DK; idx += PN_THREADS)
        {
            const int r = idx / DK, c = idx % DK;
            const bool valid = row0 + r < T;
            const float gr = gamma[row0 + r];
            qd[r * SK + c] = valid ? scale * __expf(gr) * Io<IN>::load(q, (size_t)(row0 + r) * DK + c) : 0.f;
            kd[r * SK + c] = valid ? __expf(last - gr) * Io<IN>::load(k, (size_t)(row0 + r) * DK + c) : 0.f;
            ws[r * SK + c] = w[(size_t)(row0 + r) * DK + c];
        }
        for (int idx = threadIdx.x; idx < PN_C * PN_BV; idx += PN_THREADS)
        {
            const int r = idx / PN_BV, c = idx % PN_BV;
            os[r * SV + c] = row0 + r < T ? Io<IN>::load(dout, (size_t)(row0 + r) * DV + col0 + c) : 0.f;
            dvs[r * SV + c] = dvnew[(size_t)(row0 + r) * DV + col0 + c];
        }
        for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
        {
            const int r = idx / PN_BV, c = idx % PN_BV;
            dnext[((size_t)n * DK + r) * DV + col0 + c] = dss[r * SV + c];
        }
        __syncthreads();
        // dV' = Pᵀ dO + (e^{γ_C − γ} ⊙ K) dS'
        for (int idx = threadIdx.x; idx < PN_C * PN_BV; idx += PN_THREADS)
        {
            const int r = idx / PN_BV, c = idx % PN_BV;
            float x = dvs[r * SV + c];
#pragma unroll 8
            for (int d = 0; d < DK; d++) x += kd[r * SK + d] * dss[d * SV + c];
            dvs[r * SV + c] = x;
            dvnew[(size_t)(row0 + r) * DV + col0 + c] = x;
        }
        __syncthreads();
        // dS = e^{γ_C} dS' + (scale e^γ ⊙ Q)ᵀ dO − Wᵀ dV'
        const float decay = __expf(last);
        for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
        {
            const int d = idx / PN_BV, c = idx % PN_BV;
            float x = decay * dss[d * SV + c];
#pragma unroll 8
            for (int r = 0; r < PN_C; r++) x += qd[r * SK + d] * os[r * SV + c] - ws[r * SK + d] * dvs[r * SV + c];
            dss[d * SV + c] = x;
        }
    }
    __syncthreads();
    if (dh0)
        for (int idx = threadIdx.x; idx < DK * PN_BV; idx += PN_THREADS)
        {
            const int r = idx / PN_BV, c = idx % PN_BV;
            dh0[((size_t)bh * DK + r) * DV + col0 + c] = dss[r * SV + c];
        }
}

// dchunk: grid (N, BH). dq, dk [BH, T, DK], dv [BH, T, DV], dg, dβ [BH, T] (float32) of every chunk.
// Shared (floats): scale·q, k, dK [64][DK+1]; v, dO, v' [64][DV+1]; [dW | dV'] [64][DK+DV+1]; S, dS' [DK][DV+1];
// two 64×65 matrices; γ, β, dγ, e^{γ_C−γ}-terms [64]; a 128-float reduction scratch.
template <int IN, int DK, int DV>
static __device__ __forceinline__ void bwd_chunk(const typename Io<IN>::T* __restrict__ q, const typename Io<IN>::T* __restrict__ k,
                                                 const typename Io<IN>::T* __restrict__ v, const float* __restrict__ beta,
                                                 const typename Io<IN>::T* __restrict__ dout, const float* __restrict__ w,
                                                 const float* __restrict__ u, const float* __restrict__ gamma,
                                                 const float* __restrict__ vnew, const float* __restrict__ dvnew,
                                                 const float* __restrict__ starts, const float* __restrict__ dnext,
                                                 float* __restrict__ dq, float* __restrict__ dk, float* __restrict__ dv,
                                                 float* __restrict__ dg, float* __restrict__ dbeta, int T, float scale)
{
    extern __shared__ float smem[];
    constexpr int SK = DK + 1, SV = DV + 1, NX = DK + DV, SX = NX + 1, SC = PN_C + 1, SS = DV + 1;
    float* qs = smem;                      // scale·Q
    float* ks = qs + PN_C * SK;
    float* dks = ks + PN_C * SK;           // dK accumulator
    float* vs = dks + PN_C * SK;
    float* os = vs + PN_C * SV;            // dO
    float* vn = os + PN_C * SV;            // V'
    float* xs = vn + PN_C * SV;            // [dW | dV'], then [dKβ | dVβ]
    float* ss = xs + PN_C * SX;            // S (chunk start)
    float* dss = ss + DK * SS;             // dS' (chunk end)
    float* m1 = dss + DK * SS;
    float* m2 = m1 + PN_C * SC;
    float* gs = m2 + PN_C * SC;
    float* bs = gs + PN_C;
    float* dgs = bs + PN_C;
    float* ends = dgs + PN_C;
    float* part = ends + PN_C;             // PN_THREADS
    const int chunk = blockIdx.x, bh = blockIdx.y, row0 = chunk * PN_C, chunks = gridDim.x, NP = chunks * PN_C;
    q += (size_t)bh * T * DK;
    k += (size_t)bh * T * DK;
    v += (size_t)bh * T * DV;
    dout += (size_t)bh * T * DV;
    beta += (size_t)bh * T;
    dq += (size_t)bh * T * DK;
    dk += (size_t)bh * T * DK;
    dv += (size_t)bh * T * DV;
    dg += (size_t)bh * T;
    dbeta += (size_t)bh * T;
    const size_t rows = (size_t)bh * NP + row0;
    w += rows * DK;
    u += rows * DV;
    vnew += rows * DV;
    dvnew += rows * DV;
    gamma += rows;
    starts += ((size_t)bh * chunks + chunk) * DK * DV;
    dnext += ((size_t)bh * chunks + chunk) * DK * DV;

    for (int idx = threadIdx.x; idx < PN_C * DK; idx += PN_THREADS)
    {
        const int r = idx / DK, c = idx % DK;
        const bool valid = row0 + r < T;
        qs[r * SK + c] = valid ? scale * Io<IN>::load(q, (size_t)(row0 + r) * DK + c) : 0.f;
        ks[r * SK + c] = valid ? Io<IN>::load(k, (size_t)(row0 + r) * DK + c) : 0.f;
    }
    for (int idx = threadIdx.x; idx < PN_C * DV; idx += PN_THREADS)
    {
        const int r = idx / DV, c = idx % DV;
        const bool valid = row0 + r < T;
        vs[r * SV + c] = valid ? Io<IN>::load(v, (size_t)(row0 + r) * DV + c) : 0.f;
        os[r * SV + c] = valid ? Io<IN>::load(dout, (size_t)(row0 + r) * DV + c) : 0.f;
        vn[r * SV + c] = vnew[(size_t)r * DV + c];
        xs[r * SX + DK + c] = dvnew[(size_t)r * DV + c];
    }
    for (int idx = threadIdx.x; idx < DK * DV; idx += PN_THREADS)
    {
        const int r = idx / DV, c = idx % DV;
        ss[r * SS + c] = starts[idx];
        dss[r * SS + c] = dnext[idx];
    }
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS)
    {
        gs[r] = gamma[r];
        bs[r] = row0 + r < T ? beta[row0 + r] : 0.f;
    }
    __syncthreads();
    const float last = gs[PN_C - 1];

    // m1 = Γ ⊙ lower(dO V'ᵀ) (the gradient of P, with P's decay), m2 = m1 ⊙ (scale·Q Kᵀ) (its dγ terms).
    for (int idx = threadIdx.x; idx < PN_C * PN_C; idx += PN_THREADS)
    {
        const int r = idx / PN_C, s = idx % PN_C;
        float a = 0.f, b = 0.f;
        if (s <= r)
        {
            float dp = 0.f, qk = 0.f;
#pragma unroll 8
            for (int c = 0; c < DV; c++) dp += os[r * SV + c] * vn[s * SV + c];
#pragma unroll 8
            for (int d = 0; d < DK; d++) qk += qs[r * SK + d] * ks[s * SK + d];
            a = dp * __expf(gs[r] - gs[s]);
            b = a * qk;
        }
        m1[r * SC + s] = a;
        m2[r * SC + s] = b;
    }
    __syncthreads();
    // Row passes: dQ, the dγ terms of P, of e^γ Q S and of e^{γ_C − γ} K in S'; dK through P and S'; dW = −dV' Sᵀ.
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS)
    {
        const float up = __expf(gs[r]), down = __expf(last - gs[r]);
        float dgr = 0.f;
        for (int s = 0; s < PN_C; s++) dgr += m2[r * SC + s] - m2[s * SC + r];
        float toEnd = 0.f;
        for (int d = 0; d < DK; d++)
        {
            float doS = 0.f, vdS = 0.f;
#pragma unroll 8
            for (int c = 0; c < DV; c++)
            {
                doS += os[r * SV + c] * ss[d * SS + c];
                vdS += vn[r * SV + c] * dss[d * SS + c];
            }
            float viaP = 0.f, viaPt = 0.f;
            for (int s = 0; s <= r; s++) viaP += m1[r * SC + s] * ks[s * SK + d];
            for (int s = r; s < PN_C; s++) viaPt += m1[s * SC + r] * qs[s * SK + d];
            if (row0 + r < T) dq[(size_t)(row0 + r) * DK + d] = scale * (up * doS + viaP);
            dgr += up * doS * qs[r * SK + d];
            dks[r * SK + d] = viaPt + down * vdS;
            toEnd += down * vdS * ks[r * SK + d];
        }
        dgs[r] = dgr - toEnd;
        ends[r] = toEnd;
        for (int d = 0; d < DK; d++)
        {
            float x = 0.f;
#pragma unroll 8
            for (int c = 0; c < DV; c++) x -= xs[r * SX + DK + c] * ss[d * SS + c];
            xs[r * SX + d] = x;
        }
    }
    __syncthreads();
    // m1 = B = strictLower(Γ ⊙ K Kᵀ), m2 = A = diag(β) B.
    for (int idx = threadIdx.x; idx < PN_C * PN_C; idx += PN_THREADS)
    {
        const int i = idx / PN_C, j = idx % PN_C;
        float x = 0.f;
        if (j < i)
        {
#pragma unroll 8
            for (int d = 0; d < DK; d++) x += ks[i * SK + d] * ks[j * SK + d];
            x *= __expf(gs[i] - gs[j]);
        }
        m1[i * SC + j] = x;
        m2[i * SC + j] = bs[i] * x;
    }
    __syncthreads();
    // (I + A)ᵀ X = [dW | dV'] by back substitution; a thread owns whole columns.
    for (int col = threadIdx.x; col < NX; col += PN_THREADS)
        for (int j = PN_C - 2; j >= 0; j--)
        {
            float x = xs[j * SX + col];
            for (int i = j + 1; i < PN_C; i++) x -= m2[i * SC + j] * xs[i * SX + col];
            xs[j * SX + col] = x;
        }
    __syncthreads();
    // Through diag(β e^γ) K and diag(β) V: dK, dv, dβ and dγ terms; then dA = −strictLower(dKβ Wᵀ + dVβ Uᵀ) into m2.
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS)
    {
        const float up = __expf(gs[r]);
        float kdot = 0.f, vdot = 0.f;
        for (int d = 0; d < DK; d++)
        {
            kdot += xs[r * SX + d] * ks[r * SK + d];
            dks[r * SK + d] += bs[r] * up * xs[r * SX + d];
        }
        for (int c = 0; c < DV; c++)
        {
            vdot += xs[r * SX + DK + c] * vs[r * SV + c];
            if (row0 + r < T) dv[(size_t)(row0 + r) * DV + c] = bs[r] * xs[r * SX + DK + c];
        }
        part[r] = up * kdot + vdot;                       // dβ so far (the A term follows)
        dgs[r] += bs[r] * up * kdot;
    }
    for (int idx = threadIdx.x; idx < PN_C * PN_C; idx += PN_THREADS)
    {
        const int i = idx / PN_C, j = idx % PN_C;
        float x = 0.f;
        if (j < i)
        {
#pragma unroll 8
            for (int d = 0; d < DK; d++) x += xs[i * SX + d] * w[(size_t)j * DK + d];
#pragma unroll 8
            for (int c = 0; c < DV; c++) x += xs[i * SX + DK + c] * u[(size_t)j * DV + c];
        }
        m2[i * SC + j] = -x;
    }
    __syncthreads();
    // dβ and the dγ terms of A = diag(β) B.
    for (int r = threadIdx.x; r < PN_C; r += PN_THREADS)
    {
        float rowSum = 0.f, colSum = 0.f;
        for (int j = 0; j < PN_C; j++)
        {
            rowSum += m2[r * SC + j] * m1[r * SC + j];
            colSum += bs[j] * m2[j * SC + r] * m1[j * SC + r];
        }
        if (row0 + r < T) dbeta[row0 + r] = part[r] + rowSum;
        dgs[r] += bs[r] * rowSum - colSum;
    }
    __syncthreads();
    // m2 = E = diag(β) dA ⊙ Γ, the gradient of K Kᵀ.
    for (int idx = threadIdx.x; idx < PN_C * PN_C; idx += PN_THREADS)
    {
        const int i = idx / PN_C, j = idx % PN_C;
        m2[i * SC + j] = j < i ? bs[i] * m2[i * SC + j] * __expf(gs[i] - gs[j]) : 0.f;
    }
    // e^{γ_C} ⟨dS', S⟩ for γ_C, spread over the threads.
    {
        float x = 0.f;
        for (int idx = threadIdx.x; idx < DK * DV; idx += PN_THREADS)
        {
            const int r = idx / DV, c = idx % DV;
            x += dss[r * SS + c] * ss[r * SS + c];
        }
        part[threadIdx.x] = x;                            // part[r < 64] (dβ) is written out above
    }
    __syncthreads();
    // dK += E K + Eᵀ K; written out.
    for (int idx = threadIdx.x; idx < PN_C * DK; idx += PN_THREADS)
    {
        const int r = idx / DK, d = idx % DK;
        float x = dks[r * SK + d];
        for (int j = 0; j < r; j++) x += m2[r * SC + j] * ks[j * SK + d];
        for (int i = r + 1; i < PN_C; i++) x += m2[i * SC + r] * ks[i * SK + d];
        if (row0 + r < T) dk[(size_t)(row0 + r) * DK + d] = x;
    }
    // γ_C's terms, then dg = the reverse cumulative sum of dγ.
    if (threadIdx.x == 0)
    {
        float total = 0.f;
        for (int i = 0; i < PN_THREADS; i++) total += part[i];
        total *= __expf(last);
        for (int r = 0; r < PN_C; r++) total += ends[r];
        float acc = total;
        for (int r = PN_C - 1; r >= 0; r--)
        {
            acc += dgs[r];
            if (row0 + r < T) dg[row0 + r] = acc;
        }
    }
}

// Entry points: pn_gdn_{prepare,sweep,output}_{f32,bf16,fp16}_k{DK}_v{DV}; 128 threads each; dynamic shared memory
// in bytes: prepare 4·(64·(DK+4) + 64·68 + 64·(DK+DV+8) + 128); sweep 4·(2·64·(DK+4) + 2·64·40 + 128 + 64·(DK+8) +
// DK·40) + 2·64·DK·sizeof(input); output 4·(2·64·(DK+4) + 64·68 + DK·(DV+8) + 64·(DV+8) + 64). Pointers 16-byte aligned.
#define PN_GDN_ENTRIES(TAG, IN, DK, DV)                                                                               \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_prepare_##TAG##_k##DK##_v##DV(                   \
        const Io<IN>::T* k, const Io<IN>::T* v, const float* g, const float* beta, float* w, float* u, float* gamma, int T) \
    {                                                                                                                 \
        prepare<IN, DK, DV>(k, v, g, beta, w, u, gamma, T);                                                           \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_sweep_##TAG##_k##DK##_v##DV(                     \
        const Io<IN>::T* k, const float* w, const float* u, const float* gamma, const float* h0, float* vnew,         \
        float* starts, float* hT, int T)                                                                              \
    {                                                                                                                 \
        sweep<IN, DK, DV>(k, w, u, gamma, h0, vnew, starts, hT, T);                                                   \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_output_##TAG##_k##DK##_v##DV(                    \
        const Io<IN>::T* q, const Io<IN>::T* k, const float* gamma, const float* vnew, const float* starts,           \
        Io<IN>::T* o, int T, float scale)                                                                             \
    {                                                                                                                 \
        output<IN, DK, DV>(q, k, gamma, vnew, starts, o, T, scale);                                                   \
    }

// Backward entry points, for the (DK, DV) pairs of PN_GDN_BACKWARD below: pn_gdn_{dlocal,dsweep,dchunk}_{f32,bf16,fp16}_k{DK}_v{DV};
// 128 threads; dynamic shared memory in bytes: dlocal 4·(2·64·(DK+1) + 64·65 + 64·(DV+1) + 64); dsweep
// 4·(3·64·(DK+1) + 2·64·33 + DK·33); dchunk 4·(3·64·(DK+1) + 3·64·(DV+1) + 64·(DK+DV+1) + 2·DK·(DV+1) + 2·64·65 + 4·64 + 128).
#define PN_GDN_BACKWARD_ENTRIES(TAG, IN, DK, DV)                                                                      \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_dlocal_##TAG##_k##DK##_v##DV(                    \
        const Io<IN>::T* q, const Io<IN>::T* k, const Io<IN>::T* dout, const float* gamma, float* dvnew, int T, float scale) \
    {                                                                                                                 \
        bwd_local<IN, DK, DV>(q, k, dout, gamma, dvnew, T, scale);                                                    \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_dsweep_##TAG##_k##DK##_v##DV(                    \
        const Io<IN>::T* q, const Io<IN>::T* k, const Io<IN>::T* dout, const float* w, const float* gamma,            \
        float* dvnew, float* dnext, float* dh0, int T, float scale)                                                   \
    {                                                                                                                 \
        bwd_sweep<IN, DK, DV>(q, k, dout, w, gamma, dvnew, dnext, dh0, T, scale);                                     \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(PN_THREADS) pn_gdn_dchunk_##TAG##_k##DK##_v##DV(                    \
        const Io<IN>::T* q, const Io<IN>::T* k, const Io<IN>::T* v, const float* beta, const Io<IN>::T* dout,         \
        const float* w, const float* u, const float* gamma, const float* vnew, const float* dvnew, const float* starts, \
        const float* dnext, float* dq, float* dk, float* dv, float* dg, float* dbeta, int T, float scale)              \
    {                                                                                                                 \
        bwd_chunk<IN, DK, DV>(q, k, v, beta, dout, w, u, gamma, vnew, dvnew, starts, dnext, dq, dk, dv, dg, dbeta, T, scale); \
    }

#define PN_GDN_BACKWARD(DK, DV)                \
    PN_GDN_BACKWARD_ENTRIES(f32, 0, DK, DV)   \
    PN_GDN_BACKWARD_ENTRIES(bf16, 1, DK, DV)  \
    PN_GDN_BACKWARD_ENTRIES(fp16, 2, DK, DV)

#define PN_GDN_DTYPES(DK, DV)        \
    PN_GDN_ENTRIES(f32, 0, DK, DV)   \
    PN_GDN_ENTRIES(bf16, 1, DK, DV)  \
    PN_GDN_ENTRIES(fp16, 2, DK, DV)

PN_GDN_DTYPES(32, 32)
PN_GDN_DTYPES(64, 64)
PN_GDN_DTYPES(128, 128)
PN_GDN_DTYPES(32, 64)
PN_GDN_DTYPES(64, 128)

PN_GDN_BACKWARD(32, 32)
PN_GDN_BACKWARD(64, 64)
PN_GDN_BACKWARD(32, 64)
