using PathNotebooks.Softmax;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Sparse;

/// <summary>
/// Native sparse attention (NSA, Yuan et al. 2025) in its simplified form: non-overlapping blocks of l tokens, each
/// compressed to the mean of its keys and values, and the same blocks used for selection. Three branches per query t:
/// <list type="number">
/// <item>compressed: softmax attention over the block means of the blocks that end at or before t
/// ((c + 1)·l − 1 ≤ t); a query that sees no complete block gets zero;</item>
/// <item>selected: the compressed probabilities, summed over the query heads of a KV group, rank the blocks 0 … ⌊t/l⌋;
/// the current, the previous and the first block are always taken (in that priority), then the highest-ranked ones
/// up to n blocks; attention over their raw tokens j ≤ t;</item>
/// <item>window: attention over the last W tokens.</item>
/// </list>
/// The output is g_cmp·o_cmp + g_slc·o_slc + g_win·o_win with per-head gates. This is the batched form: the selection
/// is one <c>topk</c> over all queries, turned into a token mask by a scatter; <see cref="SparseAttentionNaive"/> is the
/// per-query reference it is tested against.
/// </summary>
/// <remarks>
/// The choice of blocks (<c>topk</c>) has no gradient: the selected branch trains q, k, v through the tokens it
/// reads, and the ranking itself learns only through the compressed branch, whose probabilities it reuses.
/// Memory: the selected branch builds a <c>[B, H, T, T]</c> boolean mask, fine up to a few thousand tokens; gathering
/// the n·l selected tokens per query (<c>[B, Hkv, T, n·l, D]</c>) is the cheaper layout only when n·l·D &lt; T·H/Hkv.
/// </remarks>
public static class SparseAttention
{
    /// <summary>The three-branch output.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c> (after RoPE, if any)</param>
    /// <param name="k">keys <c>[B, Hkv, T, D]</c>; Hkv divides H, query head h reads KV head h / (H / Hkv)</param>
    /// <param name="v">values <c>[B, Hkv, T, Dv]</c></param>
    /// <param name="gates">branch gates <c>[B, H, T, 3]</c> in the order compressed, selected, window (e.g. sigmoids)</param>
    /// <param name="blockSize">block length l (compression and selection), ≥ 1</param>
    /// <param name="selectedBlocks">blocks n each query reads in the selected branch, ≥ 1 (fewer while fewer exist)</param>
    /// <param name="window">tokens W of the sliding-window branch, ≥ 1</param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor gates, int blockSize, int selectedBlocks, int window)
    {
        Check(q, k, v, gates, blockSize, selectedBlocks, window);
        using var scope = NewDisposeScope();
        long groupSize = q.shape[1] / k.shape[1];
        var (compressed, probabilities) = Compressed(q, k, v, blockSize);
        var chosen = Select(probabilities, k.shape[1], blockSize, selectedBlocks);
        var selected = SelectedBranch(q, k, v, chosen, blockSize);
        var windowed = SlidingWindowAttention.Blockwise(q, ForHeads(k, groupSize), ForHeads(v, groupSize), window);
        return Mix(gates, compressed, selected, windowed).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The blocks each query's selected branch reads: <c>[B, Hkv, T, n]</c> int64, highest priority first (current,
    /// previous, first block, then by summed compressed probability), −1 in the slots a short prefix leaves unused.
    /// </summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, Hkv, T, D]</c></param>
    /// <param name="blockSize">block length l ≥ 1</param>
    /// <param name="selectedBlocks">n ≥ 1</param>
    public static Tensor SelectedBlockIndices(Tensor q, Tensor k, int blockSize, int selectedBlocks)
    {
        Check(q, k, k, null, blockSize, selectedBlocks, 1);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (_, probabilities) = Compressed(q, k, k, blockSize);
        return Select(probabilities, k.shape[1], blockSize, selectedBlocks).MoveToOuterDisposeScope();
    }

    /// <summary>Compressed branch: its output <c>[B, H, T, Dv]</c> and probabilities <c>[B, H, T, Nc]</c>, Nc = ⌈T/l⌉.</summary>
    static (Tensor Output, Tensor Probabilities) Compressed(Tensor q, Tensor k, Tensor v, int blockSize)
    {
        long b = q.shape[0], hkv = k.shape[1], t = q.shape[2], groupSize = q.shape[1] / hkv;
        long blocks = (t + blockSize - 1) / blockSize;
        // Means of the zero-padded last block are wrong, but a partial block is never visible to any query.
        Tensor Pool(Tensor x) => ForHeads(F.pad(x, new long[] { 0, 0, 0, blocks * blockSize - t })
            .view(b, hkv, blocks, blockSize, x.shape[3]).mean(new long[] { 3 }), groupSize);       // [B, H, Nc, D]
        var logits = q.matmul(Pool(k).transpose(-2, -1)) / Math.Sqrt(q.shape[3]);                  // [B, H, T, Nc]
        var position = arange(t, device: q.device).view(t, 1);
        var blockEnd = ((arange(blocks, device: q.device) + 1) * blockSize - 1).view(1, blocks);
        var visible = blockEnd.le(position);                                                          // [T, Nc]
        var seesAny = visible.any(-1, keepdim: true);                                                // [T, 1]
        // Rows without a visible block keep finite logits and are zeroed after the softmax: no NaN in either pass.
        var p = logits.masked_fill(visible.logical_not().logical_and(seesAny), double.NegativeInfinity).softmax(-1)
            * seesAny.to(q.dtype);
        return (p.matmul(Pool(v)), p);
    }

    /// <summary>Top-n blocks per (KV group, query) from the compressed probabilities <c>[B, H, T, Nc]</c>: <c>[B, Hkv, T, n]</c>.</summary>
    static Tensor Select(Tensor probabilities, long kvHeads, int blockSize, int selectedBlocks)
    {
        long b = probabilities.shape[0], groupSize = probabilities.shape[1] / kvHeads;
        long t = probabilities.shape[2], blocks = probabilities.shape[3];
        var importance = probabilities.detach().view(b, kvHeads, groupSize, t, blocks).sum(2);      // [B, Hkv, T, Nc], ≤ G
        var device = probabilities.device;
        var current = arange(t, device: device).div(blockSize, rounding_mode: RoundingMode.floor).view(t, 1);
        var c = arange(blocks, device: device).view(1, blocks);
        // Forced blocks outrank every importance (≤ G): current G + 3, previous G + 2, first G + 1; future blocks −1.
        var priority = where(c.eq(current), 3, where(c.eq(current - 1), 2, where(c.eq(0), 1, 0)));  // [T, Nc]
        var score = where(priority.gt(0), priority.to(importance.dtype) + groupSize, importance)
            .masked_fill(c.gt(current), -1.0);
        var (values, indices) = score.topk((int)Math.Min(selectedBlocks, blocks), dim: -1);
        indices = indices.masked_fill(values.lt(0), -1);
        if (blocks < selectedBlocks)
            indices = cat(new[] { indices, full(b, kvHeads, t, selectedBlocks - blocks, -1L, dtype: ScalarType.Int64, device: device) }, -1);
        return indices;
    }

    /// <summary>Selected branch: attention over the tokens j ≤ t of the chosen blocks <c>[B, Hkv, T, n]</c>.</summary>
    static Tensor SelectedBranch(Tensor q, Tensor k, Tensor v, Tensor chosen, int blockSize)
    {
        long b = q.shape[0], hkv = k.shape[1], t = q.shape[2], groupSize = q.shape[1] / hkv;
        long blocks = (t + blockSize - 1) / blockSize;
        // Unused slots (−1) write into a spare column that is dropped.
        var slots = chosen.masked_fill(chosen.lt(0), blocks);
        var blockMask = zeros(b, hkv, t, blocks + 1, dtype: ScalarType.Bool, device: q.device)
            .scatter_(-1, slots, ones(slots.shape, dtype: ScalarType.Bool, device: q.device))[.., .., .., ..(int)blocks];
        var causal = ones(t, t, dtype: ScalarType.Bool, device: q.device).tril();
        var tokenMask = blockMask.repeat_interleave(blockSize, -1)[.., .., .., ..(int)t].logical_and(causal);  // [B, Hkv, T, T]
        return F.scaled_dot_product_attention(q, ForHeads(k, groupSize), ForHeads(v, groupSize),
            attn_mask: ForHeads(tokenMask, groupSize));
    }

    /// <summary>g_cmp·o_cmp + g_slc·o_slc + g_win·o_win with gates <c>[B, H, T, 3]</c>.</summary>
    internal static Tensor Mix(Tensor gates, Tensor compressed, Tensor selected, Tensor windowed)
    {
        var g = gates.to(compressed.dtype);
        return g[.., .., .., 0..1] * compressed + g[.., .., .., 1..2] * selected + g[.., .., .., 2..3] * windowed;
    }

    /// <summary>KV heads <c>[B, Hkv, …]</c> repeated for the query heads of each group: <c>[B, H, …]</c>.</summary>
    internal static Tensor ForHeads(Tensor x, long groupSize) => groupSize == 1 ? x : x.repeat_interleave(groupSize, 1);

    internal static void Check(Tensor q, Tensor k, Tensor v, Tensor? gates, int blockSize, int selectedBlocks, int window)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        Shapes.Floating(q, nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, Hkv, T, D]", q.shape[0], -1, q.shape[2], q.shape[3]);
        if (k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0)
            throw new ArgumentException($"k must have shape [B, Hkv, T, D] with Hkv dividing H = {q.shape[1]}, got {Shapes.Describe(k)}.", nameof(k));
        Shapes.Exactly(v, nameof(v), "[B, Hkv, T, Dv]", q.shape[0], k.shape[1], q.shape[2], -1);
        if (gates is not null) Shapes.Exactly(gates, nameof(gates), "[B, H, T, 3]", q.shape[0], q.shape[1], q.shape[2], 3);
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be ≥ 1.");
        if (selectedBlocks < 1) throw new ArgumentOutOfRangeException(nameof(selectedBlocks), selectedBlocks, "selectedBlocks must be ≥ 1.");
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 1.");
    }
}
