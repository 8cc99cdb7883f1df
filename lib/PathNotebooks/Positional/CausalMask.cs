using static TorchSharp.torch;

namespace PathNotebooks.Positional;

/// <summary>Additive causal masks (0 where a key is visible, −∞ where it is not).</summary>
public static class CausalMask
{
    /// <summary>
    /// <c>[Tq, Tk]</c> float mask; queries are the last Tq of Tk positions. With <paramref name="window"/> a query sees
    /// only the <paramref name="window"/> most recent keys including itself (sliding-window attention).
    /// </summary>
    public static Tensor Additive(int queryLength, int keyLength, int? window = null, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (queryLength <= 0 || keyLength < queryLength)
            throw new ArgumentException($"need 0 < queryLength ≤ keyLength, got queryLength={queryLength}, keyLength={keyLength}.", nameof(queryLength));
        if (window is <= 0) throw new ArgumentOutOfRangeException(nameof(window), window, "window must be ≥ 1.");
        using var scope = NewDisposeScope();
        var i = arange(keyLength - queryLength, keyLength).unsqueeze(1);
        var j = arange(0, keyLength).unsqueeze(0);
        var hidden = j.gt(i);
        if (window is int w) hidden = hidden.logical_or(j.le(i - w));
        return zeros(queryLength, keyLength, dtype: dtype).masked_fill(hidden, double.NegativeInfinity).to(device ?? CPU).MoveToOuterDisposeScope();
    }
}
