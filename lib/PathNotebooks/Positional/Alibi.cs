using static TorchSharp.torch;

namespace PathNotebooks.Positional;

/// <summary>
/// ALiBi (Press et al., "Train Short, Test Long", arXiv 2108.12409): no rotation, a fixed linear penalty
/// −mₕ·(i − j) added to the attention logit of query i and key j, one slope per head.
/// </summary>
public static class Alibi
{
    /// <summary>
    /// Head slopes: the geometric sequence 2^(−8h/H) for H a power of two; otherwise the paper's rule (slopes of the
    /// nearest lower power of two, then every other slope of the next power). float32 <c>[H]</c>.
    /// </summary>
    public static Tensor Slopes(int heads)
    {
        if (heads <= 0) throw new ArgumentOutOfRangeException(nameof(heads), heads, "heads must be ≥ 1.");
        static IEnumerable<double> PowerOfTwo(int n) => Enumerable.Range(1, n).Select(h => Math.Pow(2, -8.0 * h / n));
        int p = 1 << (int)Math.Floor(Math.Log2(heads));
        var slopes = PowerOfTwo(p).ToList();
        if (p < heads) slopes.AddRange(PowerOfTwo(2 * p).Where((_, i) => i % 2 == 0).Take(heads - p));
        return tensor(slopes.Select(s => (float)s).ToArray());
    }

    /// <summary>
    /// Additive bias <c>[H, Tq, Tk]</c>: −slopeₕ·(i − j) for keys j ≤ i and −∞ above the diagonal (causal).
    /// Query i sits at absolute position <paramref name="keyLength"/> − Tq + i (queries are the last positions).
    /// </summary>
    public static Tensor Bias(int heads, int queryLength, int keyLength, Device? device = null)
    {
        if (queryLength <= 0 || keyLength < queryLength)
            throw new ArgumentException($"need 0 < queryLength ≤ keyLength, got queryLength={queryLength}, keyLength={keyLength}.", nameof(queryLength));
        using var scope = NewDisposeScope();
        var i = arange(keyLength - queryLength, keyLength, dtype: ScalarType.Float32).unsqueeze(1);
        var j = arange(0, keyLength, dtype: ScalarType.Float32).unsqueeze(0);
        var distance = i - j;                                                     // [Tq, Tk]
        var bias = -Slopes(heads).view(-1, 1, 1) * distance;                      // [H, Tq, Tk]
        bias = bias.masked_fill(distance.lt(0), double.NegativeInfinity);
        return bias.to(device ?? CPU).MoveToOuterDisposeScope();
    }
}
