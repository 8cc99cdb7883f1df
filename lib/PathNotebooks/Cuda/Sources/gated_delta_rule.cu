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

#define PN_GDN_DTYPES(DK, DV)        \
    PN_GDN_ENTRIES(f32, 0, DK, DV)   \
    PN_GDN_ENTRIES(bf16, 1, DK, DV)  \
    PN_GDN_ENTRIES(fp16, 2, DK, DV)

PN_GDN_DTYPES(32, 32)
PN_GDN_DTYPES(64, 64)
PN_GDN_DTYPES(128, 128)
PN_GDN_DTYPES(32, 64)
PN_GDN_DTYPES(64, 128)
