using PathNotebooks.Positional;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Softmax;

/// <summary>
/// Causal sliding-window softmax attention: query i sees the keys j with i − W &lt; j ≤ i (itself and the W − 1 before
/// it), optionally with ALiBi's distance penalty. Two forms with the same values:
/// <list type="bullet">
/// <item><see cref="Dense"/>: one SDPA call with a <c>[T, T]</c> band mask. Simple; memory O(T²) for the mask (and for
/// the logits where the fused kernel cannot run).</item>
/// <item><see cref="Blockwise"/>: the sequence is cut into N query blocks of C tokens; block n only needs the keys
/// nC − W + 1 … nC + C − 1, a tile of C + W − 1 keys (L, rounded up to a multiple of 8). K and V are padded by W − 1 zeros on the left and unfolded into
/// N overlapping tiles <c>[B, H, N, L, D]</c>; the band inside a tile is the same for every block (query a sees tile
/// rows a … a + W − 1), so one <c>[N, C, L]</c> mask serves all of them and a single SDPA call over the batch of
/// blocks does the work. Memory O(T·(C + W)) instead of O(T²).</item>
/// </list>
/// </summary>
/// <remarks>
/// Why one big call: on a GPU the cost of attention at these sizes is launches and memory traffic, not arithmetic.
/// Folding the blocks into SDPA's batch dimension (<c>[B·H, N, C, D]</c> against <c>[B·H, N, L, D]</c>) gives the fused
/// memory-efficient kernel one launch for the whole layer, forward and backward, with a mask that broadcasts over
/// the batch instead of being copied per head. The price is the wasted corner of each tile: C·L logits per block
/// where C·W are needed, a factor (C + W − 1)/W, which is why the default block is at most 128 tokens.
/// </remarks>
public static class SlidingWindowAttention
{
    /// <summary>Longest sequence for which <see cref="WindowKernel.Auto"/> keeps the dense form (1024).</summary>
    public const int DenseUpTo = 1024;

    /// <summary>The block size C the blockwise form uses when none is given: the window, clamped to 16 … 128.</summary>
    public static int DefaultBlockSize(int window) => Math.Clamp(window, 16, 128);

    /// <summary>Whether <see cref="WindowKernel.Auto"/> picks the blockwise form at length <paramref name="length"/>.</summary>
    public static bool UsesBlockwise(WindowKernel kernel, int length, int window) => kernel switch
    {
        WindowKernel.Dense => false,
        WindowKernel.Blockwise => true,
        _ => length > DenseUpTo && window < length,
    };

    /// <summary>Sliding-window attention by one SDPA call with a <c>[T, T]</c> additive band mask.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="window">keys each query sees, itself included (W ≥ 1)</param>
    /// <param name="alibiSlopes">optional ALiBi slope per head <c>[H]</c>: the logit of key j for query i gets −slopeₕ·(i − j)</param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Dense(Tensor q, Tensor k, Tensor v, int window, Tensor? alibiSlopes = null)
    {
        Check(q, k, v, window, alibiSlopes);
        using var scope = NewDisposeScope();
        int t = (int)q.shape[2];
        var bias = CausalMask.Additive(t, t, window, q.device, q.dtype).unsqueeze(0);             // [1, T, T]
        if (alibiSlopes is not null)
            bias = bias - (alibiSlopes.to(ScalarType.Float32, q.device).view(-1, 1, 1) * Distance(t, t, 0, q.device)).to(q.dtype);
        var y = F.scaled_dot_product_attention(q, k, v, attn_mask: bias.unsqueeze(0).expand(q.shape[0], q.shape[1], -1, -1));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Sliding-window attention over query blocks and their key tiles; never builds a <c>[T, T]</c> tensor.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="window">keys each query sees, itself included (W ≥ 1)</param>
    /// <param name="blockSize">query block C (null = <see cref="DefaultBlockSize"/>); T need not be a multiple</param>
    /// <param name="alibiSlopes">optional ALiBi slope per head <c>[H]</c></param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Blockwise(Tensor q, Tensor k, Tensor v, int window, int? blockSize = null, Tensor? alibiSlopes = null)
    {
        Check(q, k, v, window, alibiSlopes);
        if (blockSize is < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be ≥ 1 or null.");
        using var scope = NewDisposeScope();
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3], dv = v.shape[3];
        window = (int)Math.Min(window, t);                      // a window longer than the sequence is full causal attention
        int c = blockSize ?? DefaultBlockSize(window);
        long n = (t + c - 1) / c, padded = n * c, needed = c + window - 1;
        long tile = (needed + 7) / 8 * 8;        // a multiple of 8 keeps the mask rows aligned for the fused kernels
        // Queries padded at the end to N·C; keys and values also W − 1 zeros in front, so tile n starts at row n·C.
        // The extra tile rows lie beyond every query's band and stay masked.
        var qb = F.pad(q, new long[] { 0, 0, 0, padded - t }).reshape(b, h, n, c, d);     // reshape: q may be a non-contiguous view (e.g. heads transposed)
        Tensor Tiles(Tensor x) => F.pad(x, new long[] { 0, 0, window - 1, padded - t + tile - needed })
            .unfold(2, tile, c).transpose(-2, -1);                                              // [B, H, N, L, D]
        var kb = Tiles(k);
        var vb = Tiles(v);

        // Query a of block n (position nC + a) and tile row r (position nC − W + 1 + r): visible iff a ≤ r ≤ a + W − 1
        // and the key is real (position ≥ 0); padding at the end is seen only by padded queries.
        var a = arange(c, device: q.device).view(1, c, 1);
        var r = arange(tile, device: q.device).view(1, 1, tile);
        var start = (arange(n, device: q.device) * c - (window - 1)).view(n, 1, 1);
        var visible = r.ge(a).logical_and(r.le(a + (window - 1))).logical_and((start + r).ge(0));     // [N, C, L]
        var mask = zeros(n, c, tile, dtype: q.dtype, device: q.device).masked_fill(visible.logical_not(), double.NegativeInfinity);
        long maskHeads = 1;
        if (alibiSlopes is not null)
        {
            var distance = (a - r + (window - 1)).to(ScalarType.Float32);                          // [1, C, L], i − j
            var penalty = alibiSlopes.to(ScalarType.Float32, q.device).view(-1, 1, 1, 1) * distance.unsqueeze(0);
            mask = mask.unsqueeze(0) - penalty.to(q.dtype);                                          // [H, N, C, L]
            maskHeads = h;
        }
        // Blocks fold into SDPA's head axis; the mask broadcasts over the rest of the batch.
        long groups = b * h / maskHeads, lanes = maskHeads * n;
        var y = F.scaled_dot_product_attention(qb.reshape(groups, lanes, c, d), kb.reshape(groups, lanes, tile, d),
            vb.reshape(groups, lanes, tile, dv), attn_mask: mask.reshape(1, lanes, c, tile));
        return y.reshape(b, h, padded, dv)[.., .., ..(int)t].MoveToOuterDisposeScope();
    }

    /// <summary>i − j for queries at offset … offset + Tq − 1 and keys 0 … Tk − 1, float32 <c>[Tq, Tk]</c>.</summary>
    static Tensor Distance(int queries, int keys, int offset, Device device) =>
        arange(offset, offset + queries, dtype: ScalarType.Float32, device: device).unsqueeze(1)
        - arange(0, keys, dtype: ScalarType.Float32, device: device).unsqueeze(0);

    static void Check(Tensor q, Tensor k, Tensor v, int window, Tensor? alibiSlopes)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        Shapes.Floating(q, nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, D]", q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", q.shape[0], q.shape[1], q.shape[2], -1);
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 1.");
        if (alibiSlopes is not null) Shapes.Exactly(alibiSlopes, nameof(alibiSlopes), "[H]", q.shape[1]);
    }
}
