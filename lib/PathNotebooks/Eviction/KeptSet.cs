using static TorchSharp.torch;

namespace PathNotebooks.Eviction;

/// <summary>
/// Which keys an LTE query sees. For query i of head h, with scores r (kept when r &gt; 0), window W and s sinks:
/// <code>Z(i, h) = {j &lt; s} ∪ {i − W &lt; j ≤ i} ∪ {j ≤ i : r(j, h) &gt; 0}</code>
/// (every row sees the sinks and the band, and whole columns of kept tokens: the "A + column" pattern). With a buffer
/// of b slots the third set is capped as the fixed-size cache caps it: only tokens that have left the window
/// (s ≤ j ≤ i − W) compete, and the b − s highest-scored of them stay (ties: the earlier token).
/// </summary>
public static class KeptSet
{
    /// <summary>The index sets Z as a mask.</summary>
    /// <param name="scores">keep scores <c>[B, H, T]</c></param>
    /// <param name="window">W ≥ 1</param>
    /// <param name="sinks">s ≥ 0</param>
    /// <param name="buffer">null: every kept token (training); else b ≥ s slots, the cap of the decoding cache</param>
    /// <returns><c>[B, H, T, T]</c> bool, true where query i (row) sees key j (column)</returns>
    public static Tensor Visible(Tensor scores, int window, int sinks, int? buffer = null)
    {
        Check(scores, window, sinks, buffer);
        using var scope = NewDisposeScope();
        long t = scores.shape[2];
        var device = scores.device;
        var i = arange(t, device: device).view(t, 1);
        var j = arange(t, device: device).view(1, t);
        var always = j.le(i).logical_and(j.lt(sinks).logical_or((i - j).lt(window)));         // [T, T]: sinks and band
        var kept = scores.gt(0);                                                                 // [B, H, T]
        if (buffer is not int b) return always.logical_or(kept.unsqueeze(2).logical_and(j.le(i))).MoveToOuterDisposeScope();

        // Candidates left the window (j ≤ i − W) with r > 0; rank(j at query i) = how many candidates j' ≤ i − W beat j.
        var candidate = kept.logical_and(arange(t, device: device).ge(sinks));                  // [B, H, T]
        var rj = scores.unsqueeze(-1);                                                           // [B, H, T(j), 1]
        var rOther = scores.unsqueeze(-2);                                                       // [B, H, 1, T(j')]
        var earlier = arange(t, device: device).view(1, t).lt(arange(t, device: device).view(t, 1));   // [T(j), T(j')]: j' < j
        var beats = candidate.unsqueeze(-2).logical_and(rOther.gt(rj).logical_or(rOther.eq(rj).logical_and(earlier)));
        var beaten = beats.cumsum(-1, ScalarType.Int32).transpose(-2, -1);                      // [B, H, T(m), T(j)]: beaten by j' ≤ m
        long shift = Math.Min(window, t);
        var rank = cat(new[] { zeros(scores.shape[0], scores.shape[1], shift, t, ScalarType.Int32, device), beaten[.., .., ..(int)(t - shift)] }, 2);
        var left = (i - j).ge(window);                                                           // [T, T]: j ≤ i − W
        var stays = candidate.unsqueeze(2).logical_and(left).logical_and(rank.lt(b - sinks));
        return always.logical_or(stays).MoveToOuterDisposeScope();
    }

    /// <summary>The same sets by their definition, one query at a time on the CPU (the reference the mask is tested
    /// against; slow): <c>[B, H, T, T]</c> bool.</summary>
    public static Tensor VisibleByDefinition(Tensor scores, int window, int sinks, int? buffer = null)
    {
        Check(scores, window, sinks, buffer);
        long bs = scores.shape[0], hs = scores.shape[1], t = scores.shape[2];
        var r = scores.to(ScalarType.Float64).cpu().data<double>().ToArray();
        var visible = new bool[bs * hs * t * t];
        for (long b = 0; b < bs; b++)
            for (long h = 0; h < hs; h++)
            {
                long row = (b * hs + h) * t;
                double R(long j) => r[row + j];
                for (long q = 0; q < t; q++)
                {
                    var set = new HashSet<long>();
                    for (long j = 0; j <= q; j++)
                        if (j < sinks || q - j < window || (buffer is null && R(j) > 0)) set.Add(j);
                    if (buffer is int cap)
                    {
                        var candidates = Enumerable.Range(0, (int)t).Select(j => (long)j)
                            .Where(j => j >= sinks && j <= q - window && R(j) > 0)
                            .OrderByDescending(R).ThenBy(j => j).Take(cap - sinks);
                        set.UnionWith(candidates);
                    }
                    foreach (long j in set) visible[(row + q) * t + j] = true;
                }
            }
        return tensor(visible, new[] { bs, hs, t, t }).to(scores.device);
    }

    /// <summary>The scores the <see cref="EvictionPolicy.Recency"/> heuristic ranks by: every token positive, later
    /// tokens higher (1 + position), <c>[B, H, T]</c> like <paramref name="scores"/>.</summary>
    public static Tensor RecencyScores(Tensor scores, long offset = 0)
    {
        Shapes.Rank(scores, 3, nameof(scores), "[B, H, T]");
        return (arange(offset + 1, offset + 1 + scores.shape[2], dtype: scores.dtype, device: scores.device)).expand_as(scores);
    }

    static void Check(Tensor scores, int window, int sinks, int? buffer)
    {
        Shapes.Rank(scores, 3, nameof(scores), "[B, H, T]");
        Shapes.Floating(scores, nameof(scores));
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 1.");
        if (sinks < 0) throw new ArgumentOutOfRangeException(nameof(sinks), sinks, "sinks must be ≥ 0.");
        if (buffer is int b && b < sinks)
            throw new ArgumentOutOfRangeException(nameof(buffer), buffer, $"buffer ({b}) must hold at least the {sinks} sinks.");
    }
}
