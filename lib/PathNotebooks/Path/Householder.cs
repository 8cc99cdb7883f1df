using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>
/// Compact form of a product of L Householder-like transforms (the UT transform).
/// <para><c>Product = H_L ⋯ H_1 = I − Wᵀ U</c> with <c>U = T diag(β) W</c>.</para>
/// </summary>
/// <param name="T">the unit lower-triangular factor <c>(I + A)⁻¹</c>, <c>[..., L, L]</c></param>
/// <param name="U"><c>T diag(β) W</c>, <c>[..., L, d]</c></param>
public sealed record UTForm(Tensor T, Tensor U);

/// <summary>Ways to invert a unit lower-triangular matrix in <see cref="Householder.UT"/>.</summary>
public enum UnitLowerInverse
{
    /// <summary>Triangular solve on CUDA, block inverse elsewhere.</summary>
    Auto,
    /// <summary>Recursive 2×2 block inversion with batched matmuls (<see cref="Householder.InverseUnitLowerBlockwise"/>).</summary>
    Blockwise,
    /// <summary><c>torch.linalg.solve_triangular</c> (<see cref="Householder.InverseUnitLower"/>).</summary>
    TriangularSolve,
    /// <summary>Triangular solves of the 16×16 diagonal blocks, then block forward substitution
    /// (<see cref="Householder.InverseUnitLowerBlocked"/>): what the gated delta rule uses on CUDA.</summary>
    BlockedSolve,
}

/// <summary>
/// Householder-like transforms <c>H_t = I − β_t w_t w_tᵀ</c> (‖w_t‖ = 1, β_t ∈ (0, 2)), the building block of PaTH.
/// The eigenvalue of <c>H_t</c> along <c>w_t</c> is <c>1 − β_t ∈ (−1, 1)</c>; every other eigenvalue is 1.
/// <c>H_t</c> is symmetric, so applying it to a row vector and to a column vector is the same operation.
/// </summary>
/// <remarks>
/// <para><b>Why the UT transform gives the product.</b> Write the rows of <c>W ∈ R^{L×d}</c> as <c>w_1 … w_L</c> and
/// look for <c>P_L = H_L ⋯ H_1</c> in the form <c>I − Wᵀ U</c> (every factor only removes components along some
/// <c>w_s</c>, so the product differs from I by a matrix whose columns live in span{w_s}). Induction on L:</para>
/// <para><c>P_L = H_L P_{L−1} = (I − β_L w_L w_Lᵀ)(I − W_{&lt;L}ᵀ U_{&lt;L})
///   = I − W_{&lt;L}ᵀ U_{&lt;L} − β_L w_L (w_Lᵀ − w_Lᵀ W_{&lt;L}ᵀ U_{&lt;L})</c>,</para>
/// <para>so the new row is <c>u_L = β_L (w_L − Σ_{s&lt;L} (w_Lᵀ w_s) u_s)</c>, i.e. with
/// <c>A = strictLower(diag(β) W Wᵀ)</c> (<c>A_rs = β_r w_rᵀ w_s</c> for r &gt; s) the rows satisfy
/// <c>U + A U = diag(β) W</c>, hence <c>U = (I + A)⁻¹ diag(β) W = T diag(β) W</c>.</para>
/// <para><c>I + A</c> is unit lower-triangular, so <c>T</c> is exact by one triangular solve
/// (<c>torch.linalg.solve_triangular(I + A, I, upper: false, unitriangular: true)</c>, <see cref="InverseUnitLower"/>)
/// or, equivalently and faster on CPU for many small matrices, by recursive 2×2 block inversion
/// (<see cref="InverseUnitLowerBlockwise"/>; <see cref="UnitLowerInverse.Auto"/> picks one per device, tests pin the two together). We never use the nilpotent
/// power/doubling series <c>(I − A)(I + A²)(I + A⁴)⋯</c>: with repeated identical w and β near 2 its intermediate
/// powers explode (~1e27) and fp32 results become garbage (see docs/path.md, "Inverting I + A").</para>
/// <para>Because <c>I + A</c> is lower-triangular, every diagonal block of <c>T</c> is the inverse of the matching
/// block of <c>I + A</c>: for <c>a ≤ b</c>, <c>H_b ⋯ H_a = I − W_{a..b}ᵀ T_{a..b,a..b} diag(β_{a..b}) W_{a..b}</c>.
/// One T per chunk plus masks therefore gives every interval product (the "masked UT transform" of the PaTH paper).</para>
/// </remarks>
public static class Householder
{
    /// <summary>
    /// Applies <c>H = I − β w wᵀ</c> to row vectors without forming H: <c>x ← x − β (x·w) w</c>.
    /// </summary>
    /// <param name="x">rows <c>[..., N, d]</c> (one transform for all N rows) or a vector batch <c>[..., d]</c></param>
    /// <param name="w">unit vectors <c>[..., d]</c> (batch dims as x without N)</param>
    /// <param name="beta"><c>[...]</c></param>
    public static Tensor Apply(Tensor x, Tensor w, Tensor beta)
    {
        Shapes.Floating(x, nameof(x));
        Shapes.Floating(w, nameof(w));
        Shapes.Floating(beta, nameof(beta));
        if (w.dim() != beta.dim() + 1)
            throw new ArgumentException($"beta must have shape [...] = w's shape without d, got w {Shapes.Describe(w)}, beta {Shapes.Describe(beta)}.", nameof(beta));
        using var scope = NewDisposeScope();
        if (x.dim() == w.dim())
        {
            var dot = (x * w).sum(-1, keepdim: true);                                // [..., 1]
            return (x - beta.unsqueeze(-1) * dot * w).MoveToOuterDisposeScope();
        }
        if (x.dim() == w.dim() + 1)
        {
            var wr = w.unsqueeze(-2);                                                // [..., 1, d]
            var dot = (x * wr).sum(-1, keepdim: true);                               // [..., N, 1]
            return (x - beta.unsqueeze(-1).unsqueeze(-1) * dot * wr).MoveToOuterDisposeScope();
        }
        throw new ArgumentException($"x must have shape [..., d] or [..., N, d] matching w {Shapes.Describe(w)}, got {Shapes.Describe(x)}.", nameof(x));
    }

    /// <summary>The explicit matrix <c>I − β w wᵀ</c>, <c>[..., d, d]</c> (for tests and pictures).</summary>
    /// <param name="w"><c>[..., d]</c></param>
    /// <param name="beta"><c>[...]</c></param>
    public static Tensor Matrix(Tensor w, Tensor beta)
    {
        Shapes.Floating(w, nameof(w));
        using var scope = NewDisposeScope();
        long d = w.shape[^1];
        var eye_ = eye(d, dtype: w.dtype, device: w.device);
        var outer = w.unsqueeze(-1) * w.unsqueeze(-2);
        return (eye_ - beta.unsqueeze(-1).unsqueeze(-1) * outer).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Explicit product <c>H_b H_{b−1} ⋯ H_a</c> (latest factor on the left) of the transforms with indices
    /// <c>a ≤ t ≤ b</c> along dim −2 of <paramref name="w"/>; the identity when <c>a &gt; b</c>.
    /// O(L·d³): for tests and pictures only.
    /// </summary>
    /// <param name="w"><c>[..., L, d]</c></param>
    /// <param name="beta"><c>[..., L]</c></param>
    /// <param name="a">index of the first (rightmost) factor</param>
    /// <param name="b">index of the last (leftmost) factor</param>
    /// <returns><c>[..., d, d]</c></returns>
    public static Tensor Product(Tensor w, Tensor beta, int a, int b)
    {
        CheckSequence(w, beta);
        using var scope = NewDisposeScope();
        long d = w.shape[^1];
        var batch = w.shape[..^2];
        var p = eye(d, dtype: w.dtype, device: w.device).expand([.. batch, d, d]);
        for (int t = a; t <= b; t++)
            p = Matrix(w.select(-2, t), beta.select(-1, t)).matmul(p);
        return p.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// All prefix products as explicit matrices: entry t is <c>H_t ⋯ H_1</c> (latest factor on the left),
    /// <c>[..., L, d, d]</c>. O(L·d³): for tests and pictures (e.g. how a key direction is rotated/reflected over time).
    /// </summary>
    /// <param name="w"><c>[..., L, d]</c></param>
    /// <param name="beta"><c>[..., L]</c></param>
    public static Tensor CumulativeProducts(Tensor w, Tensor beta)
    {
        CheckSequence(w, beta);
        using var scope = NewDisposeScope();
        long l = w.shape[^2];
        var products = new List<Tensor>();
        Tensor? p = null;
        for (int t = 0; t < l; t++)
        {
            var h = Matrix(w.select(-2, t), beta.select(-1, t));
            p = p is null ? h : h.matmul(p);
            products.Add(p);
        }
        return stack(products, -3).MoveToOuterDisposeScope();
    }

    /// <summary>Explicit product of all L transforms, <c>H_L ⋯ H_1</c>, <c>[..., d, d]</c>.</summary>
    public static Tensor Product(Tensor w, Tensor beta) => Product(w, beta, 0, (int)w.shape[^2] - 1);

    /// <summary>
    /// The UT transform of a sequence of L transforms: <c>A = strictLower(diag(β) W Wᵀ)</c>, <c>T = (I + A)⁻¹</c> (exact, see <paramref name="inverse"/>),
    /// <c>U = T diag(β) W</c>. Computed in float32 for half-precision inputs (float64 stays float64).
    /// See the class remarks for the derivation.
    /// </summary>
    /// <param name="w"><c>[..., L, d]</c></param>
    /// <param name="beta"><c>[..., L]</c></param>
    /// <param name="inverse">how to invert <c>I + A</c>. Both ways are exact and pinned together by the tests; Auto takes
    /// the batched triangular solve on CUDA and the recursive block inverse elsewhere (libtorch's batched CPU solve is
    /// slow for many small matrices).</param>
    public static UTForm UT(Tensor w, Tensor beta, UnitLowerInverse inverse = UnitLowerInverse.Auto)
    {
        CheckSequence(w, beta);
        using var scope = NewDisposeScope();
        var dtype = AccumulationType(w.dtype);
        var w32 = w.to(dtype);
        var bw = beta.to(dtype).unsqueeze(-1) * w32;                                  // diag(β) W   [..., L, d]
        var a = bw.matmul(w32.transpose(-2, -1)).tril(-1);                            // A  [..., L, L]
        var t = inverse == UnitLowerInverse.BlockedSolve ? InverseUnitLowerBlocked(a)
            : inverse == UnitLowerInverse.TriangularSolve || (inverse == UnitLowerInverse.Auto && w.device_type == DeviceType.CUDA)
            ? InverseUnitLower(a)                                                     // (I + A)⁻¹: one batched solve (fast on GPUs)
            : InverseUnitLowerBlockwise(a);                                           // (I + A)⁻¹: batched matmuls (fast on CPUs)
        var u = t.matmul(bw);                                                         // [..., L, d]
        return new UTForm(t.MoveToOuterDisposeScope(), u.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <c>(I + A)⁻¹</c> for a strictly lower-triangular <c>A</c> <c>[..., L, L]</c>, by one unit-triangular solve
    /// (<c>torch.linalg.solve_triangular</c>). Exact and stable; the reference for <see cref="InverseUnitLowerBlockwise"/>.
    /// </summary>
    public static Tensor InverseUnitLower(Tensor strictlyLower)
    {
        using var scope = NewDisposeScope();
        long l = strictlyLower.shape[^1];
        var identity = eye(l, dtype: strictlyLower.dtype, device: strictlyLower.device);
        var unit = strictlyLower + identity;
        var rhs = identity.expand(strictlyLower.shape).contiguous();
        return linalg.solve_triangular(unit, rhs, upper: false, left: true, unitriangular: true).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>(I + A)⁻¹</c> for a strictly lower-triangular <c>A</c> <c>[..., L, L]</c>: the diagonal blocks of
    /// <paramref name="blockSize"/> by one batched triangular solve (<see cref="InverseUnitLower"/>), then block forward
    /// substitution, one block row at a time: with <c>X</c> the inverse of the leading <c>r</c> rows,
    /// <c>inv([[L₁₁, 0], [L₂₁, L₂₂]]) = [[X, 0], [−X₂₂ L₂₁ X, X₂₂]]</c> (L is zero-padded to whole blocks). Exact like
    /// the full solve, and on a GPU faster for the 64×64 chunks of the gated delta rule: libtorch's batched solve runs
    /// far below matmul speed and costs more than proportionally in L (measured on an H200, 8192 matrices of 64×64 in
    /// float32: 1.2 ms for one solve of 64, 0.6–0.7 ms for 16-blocks plus three block rows of batched matmuls; in the
    /// whole chunked rule at T = 8192, B = 4, H = 16, bf16: 5.35 ms forward against 5.64 ms with the single solve).
    /// </summary>
    public static Tensor InverseUnitLowerBlocked(Tensor strictlyLower, int blockSize = 16)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be ≥ 1.");
        long l = strictlyLower.shape[^1];
        if (l <= blockSize) return InverseUnitLower(strictlyLower);
        using var scope = NewDisposeScope();
        long blocks = (l + blockSize - 1) / blockSize, size = blocks * blockSize;
        var a = size == l ? strictlyLower : nn.functional.pad(strictlyLower, new long[] { 0, size - l, 0, size - l });
        var batch = a.shape[..^2];
        var diagonal = a.reshape([.. batch, blocks, blockSize, blocks, blockSize]).diagonal(0, -4, -2).movedim(new long[] { -1 }, new long[] { -3 });
        var inverses = InverseUnitLower(diagonal);                                    // [..., blocks, b, b]
        var lead = inverses.select(-3, 0);                                            // inverse of the first r rows, [..., r, r]
        for (long i = 1; i < blocks; i++)
        {
            long r = i * blockSize;
            var coupling = a[TensorIndex.Ellipsis, TensorIndex.Slice(r, r + blockSize), TensorIndex.Slice(null, r)];   // L₂₁ [..., b, r]
            var own = inverses.select(-3, i);                                         // X₂₂ [..., b, b]
            var below = -own.matmul(coupling.matmul(lead));                           // −X₂₂ L₂₁ X  [..., b, r]
            var top = cat(new[] { lead, zeros([.. batch, r, blockSize], dtype: a.dtype, device: a.device) }, -1);
            lead = cat(new[] { top, cat(new[] { below, own }, -1) }, -2);
        }
        if (size != l) lead = lead[TensorIndex.Ellipsis, TensorIndex.Slice(null, l), TensorIndex.Slice(null, l)];
        return lead.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>(I + A)⁻¹</c> for a strictly lower-triangular <c>A</c> <c>[..., L, L]</c> by recursive 2×2 block inversion with
    /// batched matmuls only: <c>inv([[L11, 0], [L21, L22]]) = [[X11, 0], [−X22 L21 X11, X22]]</c>, from 1×1 blocks up
    /// (log₂ L levels; L is zero-padded to a power of two, which appends an identity block). Same result as the
    /// triangular solve, stable (no powers of A), and much faster than libtorch's batched CPU solve for many small
    /// matrices; what <see cref="UT"/> uses on CPUs.
    /// </summary>
    public static Tensor InverseUnitLowerBlockwise(Tensor strictlyLower)
    {
        using var scope = NewDisposeScope();
        long l = strictlyLower.shape[^1];
        long size = 1;
        while (size < l) size *= 2;
        var a = size == l ? strictlyLower : nn.functional.pad(strictlyLower, new long[] { 0, size - l, 0, size - l });
        var batch = a.shape[..^2];
        var blocks = ones([.. batch, size, 1, 1], dtype: a.dtype, device: a.device);   // inverses of the 1×1 diagonal blocks
        for (long s = 1; s < size; s *= 2)
        {
            long pairs = size / (2 * s);
            // diagonal 2s×2s blocks of A: [..., pairs, 2s, 2s]; their lower-left s×s part couples the two halves
            var diag = a.reshape([.. batch, pairs, 2 * s, pairs, 2 * s]).diagonal(0, -4, -2).movedim(new long[] { -1 }, new long[] { -3 });
            var lower = diag[TensorIndex.Ellipsis, TensorIndex.Slice(s, null), TensorIndex.Slice(null, s)];
            var halves = blocks.reshape([.. batch, pairs, 2, s, s]);
            var x11 = halves.select(-3, 0);
            var x22 = halves.select(-3, 1);
            var x21 = -x22.matmul(lower).matmul(x11);
            var top = cat(new[] { x11, zeros_like(x11) }, -1);
            var bottom = cat(new[] { x21, x22 }, -1);
            blocks = cat(new[] { top, bottom }, -2);                                  // [..., pairs, 2s, 2s]
        }
        var inverse = blocks.reshape([.. batch, size, size]);
        if (size != l) inverse = inverse[TensorIndex.Ellipsis, TensorIndex.Slice(null, l), TensorIndex.Slice(null, l)];
        return inverse.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The dense product <c>I − Wᵀ U</c> = <c>H_L ⋯ H_1</c>, <c>[..., d, d]</c>, from the UT form.</summary>
    /// <param name="w"><c>[..., L, d]</c></param>
    /// <param name="u"><see cref="UTForm.U"/>, <c>[..., L, d]</c></param>
    public static Tensor ProductFromUT(Tensor w, Tensor u)
    {
        using var scope = NewDisposeScope();
        long d = w.shape[^1];
        var wt = w.to(u.dtype).transpose(-2, -1);
        return (eye(d, dtype: u.dtype, device: u.device) - wt.matmul(u)).MoveToOuterDisposeScope();
    }

    /// <summary>float64 stays float64; everything else is accumulated in float32.</summary>
    internal static ScalarType AccumulationType(ScalarType t) => t == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    static void CheckSequence(Tensor w, Tensor beta)
    {
        Shapes.Floating(w, nameof(w));
        Shapes.Floating(beta, nameof(beta));
        if (w.dim() < 2) throw new ArgumentException($"w must have shape [..., L, d], got {Shapes.Describe(w)}.", nameof(w));
        if (beta.dim() != w.dim() - 1 || !beta.shape.SequenceEqual(w.shape[..^1]))
            throw new ArgumentException($"beta must have shape [..., L] = [{string.Join(", ", w.shape[..^1])}], got {Shapes.Describe(beta)}.", nameof(beta));
    }
}
