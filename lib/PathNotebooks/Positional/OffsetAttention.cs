using static TorchSharp.torch;

namespace PathNotebooks.Positional;

/// <summary>
/// Where causal attention looks, by key offset: statistics of attention probabilities p[b, h, t, j] over the offset
/// t − j between query position t and key position j, averaged over the batch. Used to read what a trained head does
/// at positions inside and beyond its training length.
/// </summary>
public static class OffsetAttention
{
    /// <summary>Mass each query t puts on the key exactly <paramref name="offset"/> positions back, p[t, t − offset].</summary>
    /// <param name="probabilities">attention probabilities <c>[B, H, T, T]</c> (rows sum to 1)</param>
    /// <param name="offset">the key offset t − j (0 … T − 1)</param>
    /// <returns>float64 <c>[H, T]</c>, batch mean; 0 for queries t &lt; offset, which have no such key</returns>
    public static Tensor AtOffset(Tensor probabilities, int offset)
    {
        var (h, t) = Check(probabilities);
        if (offset < 0 || offset >= t) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offset must be in 0…T−1 = {t - 1}.");
        using var scope = NewDisposeScope();
        var diag = probabilities.to(ScalarType.Float64).diagonal(-offset, -2, -1).mean(new long[] { 0 });   // [H, T − offset]
        return cat(new[] { zeros(h, offset, dtype: ScalarType.Float64, device: diag.device), diag }, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Mass each query t puts on keys at least <paramref name="minDistance"/> positions back (j ≤ t − minDistance).</summary>
    /// <param name="probabilities">attention probabilities <c>[B, H, T, T]</c></param>
    /// <param name="minDistance">the smallest offset counted (≥ 0)</param>
    /// <returns>float64 <c>[H, T]</c>, batch mean; 0 for queries t &lt; minDistance</returns>
    public static Tensor AtLeast(Tensor probabilities, int minDistance)
    {
        var (_, t) = Check(probabilities);
        if (minDistance < 0) throw new ArgumentOutOfRangeException(nameof(minDistance), minDistance, "minDistance must be ≥ 0.");
        using var scope = NewDisposeScope();
        var pos = arange(t, device: probabilities.device);
        var far = (pos.unsqueeze(1) - pos.unsqueeze(0)).ge(minDistance).to(ScalarType.Float64);   // [T, T]: t − j ≥ minDistance
        return (probabilities.to(ScalarType.Float64) * far).sum(-1).mean(new long[] { 0 }).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean attention on offset d = 0 … <paramref name="maxDistance"/>, over the queries t in
    /// [<paramref name="from"/>, <paramref name="to"/>) that have a key at that offset (t ≥ d).
    /// </summary>
    /// <param name="probabilities">attention probabilities <c>[B, H, T, T]</c></param>
    /// <param name="maxDistance">the largest offset (0 … T − 1)</param>
    /// <param name="from">first query position</param>
    /// <param name="to">one past the last query position (≤ T)</param>
    /// <returns>float64 <c>[H, maxDistance + 1]</c>; 0 where no query in the range has a key at that offset</returns>
    public static Tensor ByDistance(Tensor probabilities, int maxDistance, int from, int to)
    {
        var (h, t) = Check(probabilities);
        if (maxDistance < 0 || maxDistance >= t) throw new ArgumentOutOfRangeException(nameof(maxDistance), maxDistance, $"maxDistance must be in 0…T−1 = {t - 1}.");
        if (from < 0 || to > t || from >= to) throw new ArgumentOutOfRangeException(nameof(from), $"need 0 ≤ from < to ≤ T = {t}, got [{from}, {to}).");
        using var scope = NewDisposeScope();
        var p = probabilities.to(ScalarType.Float64);
        var columns = new List<Tensor>();
        for (int d = 0; d <= maxDistance; d++)
        {
            int first = Math.Max(from, d);                                         // queries t ≥ d, t ∈ [from, to)
            columns.Add(first >= to ? zeros(h, dtype: ScalarType.Float64, device: p.device)
                : p.diagonal(-d, -2, -1)[.., .., (first - d)..(to - d)].mean(new long[] { 0, 2 }));   // diagonal index = t − d
        }
        return stack(columns, 1).MoveToOuterDisposeScope();
    }

    static (int Heads, int Length) Check(Tensor probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        Shapes.Rank(probabilities, 4, nameof(probabilities), "[B, H, T, T]");
        if (probabilities.shape[2] != probabilities.shape[3])
            throw new ArgumentException($"probabilities must be square in the last two dimensions [B, H, T, T], got {Shapes.Describe(probabilities)}.", nameof(probabilities));
        Shapes.Floating(probabilities, nameof(probabilities));
        return ((int)probabilities.shape[1], (int)probabilities.shape[2]);
    }
}
