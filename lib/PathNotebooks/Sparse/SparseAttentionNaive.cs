using static TorchSharp.torch;

namespace PathNotebooks.Sparse;

/// <summary>
/// The reference for <see cref="SparseAttention"/>: one query at a time, in float64, each branch's visible keys
/// written out explicitly and the block choice made by sorting in plain C#. O(T²) and slow; the oracle of the tests.
/// </summary>
public static class SparseAttentionNaive
{
    /// <summary>The three-branch output, query by query (arguments as in <see cref="SparseAttention.Forward"/>).</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, Hkv, T, D]</c></param>
    /// <param name="v">values <c>[B, Hkv, T, Dv]</c></param>
    /// <param name="gates">gates <c>[B, H, T, 3]</c>: compressed, selected, window</param>
    /// <param name="blockSize">block length l ≥ 1</param>
    /// <param name="selectedBlocks">n ≥ 1</param>
    /// <param name="window">W ≥ 1</param>
    /// <returns><c>[B, H, T, Dv]</c> float64</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor gates, int blockSize, int selectedBlocks, int window) =>
        Run(q, k, v, gates, blockSize, selectedBlocks, window).Output;

    /// <summary>The chosen blocks <c>[B, Hkv, T, n]</c> int64 (−1 unused), in priority order, as
    /// <see cref="SparseAttention.SelectedBlockIndices"/> gives them.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, Hkv, T, D]</c></param>
    /// <param name="blockSize">block length l ≥ 1</param>
    /// <param name="selectedBlocks">n ≥ 1</param>
    public static Tensor SelectedBlockIndices(Tensor q, Tensor k, int blockSize, int selectedBlocks)
    {
        using var _ = no_grad();
        var gates = ones(q.shape[0], q.shape[1], q.shape[2], 3, dtype: ScalarType.Float64, device: q.device);
        return Run(q, k, k, gates, blockSize, selectedBlocks, 1).Selected;
    }

    static (Tensor Output, Tensor Selected) Run(Tensor q, Tensor k, Tensor v, Tensor gates, int blockSize, int selectedBlocks, int window)
    {
        SparseAttention.Check(q, k, v, gates, blockSize, selectedBlocks, window);
        using var scope = NewDisposeScope();
        q = q.to(ScalarType.Float64); k = k.to(ScalarType.Float64); v = v.to(ScalarType.Float64); gates = gates.to(ScalarType.Float64);
        int b = (int)q.shape[0], h = (int)q.shape[1], hkv = (int)k.shape[1], t = (int)q.shape[2], g = h / hkv;
        double scale = 1 / Math.Sqrt(q.shape[3]);
        var kh = SparseAttention.ForHeads(k, g);                                    // [B, H, T, D]
        var vh = SparseAttention.ForHeads(v, g);
        // Mean key and value of every complete block, [B, H, ⌊T/l⌋, D]; query i reads the first ⌊(i + 1)/l⌋ of them.
        int blocks = t / blockSize;
        var kMeans = kh[.., .., ..(blocks * blockSize)].reshape(b, h, blocks, blockSize, kh.shape[3]).mean(new long[] { 3 });
        var vMeans = vh[.., .., ..(blocks * blockSize)].reshape(b, h, blocks, blockSize, vh.shape[3]).mean(new long[] { 3 });
        var chosen = new long[b, hkv, t, selectedBlocks];
        var rows = new List<Tensor>();
        for (int i = 0; i < t; i++)
        {
            using var step = NewDisposeScope();                                     // one query's temporaries
            var qi = q[.., .., i..(i + 1)];                                         // [B, H, 1, D]

            // Compressed: the means of the blocks that end at or before i.
            int complete = (i + 1) / blockSize;
            Tensor compressed = zeros(b, h, 1, v.shape[3], dtype: ScalarType.Float64, device: q.device);
            var importance = new double[b, hkv, complete];
            if (complete > 0)
            {
                var kc = kMeans[.., .., ..complete];
                var vc = vMeans[.., .., ..complete];
                var p = (qi.matmul(kc.transpose(-2, -1)) * scale).softmax(-1);    // [B, H, 1, complete]
                compressed = p.matmul(vc);
                var summed = p.detach().view(b, hkv, g, complete).sum(2).contiguous().data<double>().ToArray();
                for (int x = 0; x < b; x++) for (int y = 0; y < hkv; y++) for (int c = 0; c < complete; c++)
                    importance[x, y, c] = summed[(x * hkv + y) * complete + c];
            }

            // Selected: rank blocks 0 … current (forced ones first), keep n, mark their tokens up to i.
            int current = i / blockSize;
            var visibleSelected = new bool[b * h * (i + 1)];
            for (int x = 0; x < b; x++)
                for (int y = 0; y < hkv; y++)
                {
                    int Priority(int c) => c == current ? 3 : c == current - 1 ? 2 : c == 0 ? 1 : 0;
                    var ranked = Enumerable.Range(0, current + 1)
                        .OrderByDescending(Priority).ThenByDescending(c => c < complete ? importance[x, y, c] : 0).ToList();
                    for (int s = 0; s < selectedBlocks; s++)
                    {
                        chosen[x, y, i, s] = s < ranked.Count ? ranked[s] : -1;
                        if (s >= ranked.Count) continue;
                        for (int j = ranked[s] * blockSize; j < Math.Min((ranked[s] + 1) * blockSize, i + 1); j++)
                            for (int head = y * g; head < (y + 1) * g; head++) visibleSelected[(x * h + head) * (i + 1) + j] = true;
                    }
                }
            var selectedMask = tensor(visibleSelected).view(b, h, 1, i + 1).to(q.device);
            var logits = qi.matmul(kh[.., .., ..(i + 1)].transpose(-2, -1)) * scale;  // [B, H, 1, i + 1]
            var selected = logits.masked_fill(selectedMask.logical_not(), double.NegativeInfinity).softmax(-1).matmul(vh[.., .., ..(i + 1)]);

            // Window: the last W tokens.
            int first = Math.Max(0, i - window + 1);
            var windowed = (qi.matmul(kh[.., .., first..(i + 1)].transpose(-2, -1)) * scale).softmax(-1).matmul(vh[.., .., first..(i + 1)]);

            rows.Add(SparseAttention.Mix(gates[.., .., i..(i + 1)], compressed, selected, windowed).MoveToOuterDisposeScope());
        }
        var output = cat(rows, 2);
        var flat = new long[chosen.Length];
        Buffer.BlockCopy(chosen, 0, flat, 0, flat.Length * sizeof(long));
        var indices = tensor(flat).view(b, hkv, t, selectedBlocks).to(q.device);
        return (output.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }
}
