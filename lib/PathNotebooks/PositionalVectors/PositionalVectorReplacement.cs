using PathNotebooks.Models;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>
/// Training-free context extension for NoPE by positional-vector replacement (Dong et al. 2024; see
/// docs/positional-vectors.md, "Replacement"):
/// at one layer ℓ, <c>h[ℓ, t] ← h[ℓ, t] − p[ℓ, t] + α·p̂[ℓ, t]</c>, where p̂ is the in-window
/// positional vector linearly interpolated at a fractional position (ratio r), and the first k tokens (the
/// anchors) are left unchanged.
/// </summary>
/// <remarks>
/// Fractional position: with <c>fromAnchors</c> (default) token t ≥ k reads position <c>k + (t − k)/r</c>, so the
/// compressed range starts right after the anchors and never blends anchor vectors (whose norms are unusual)
/// into ordinary tokens; with <c>fromAnchors: false</c> it reads <c>t/r</c> as written in the paper's summary.
/// For k = 0 both are t/r. Positions past the last in-window vector are clamped to it.
/// The vector p[ℓ, t] that is taken away is, by default, estimated as the mean over the evaluation batch at the
/// long length (the batch's own positional vectors: no stored long-range statistics are needed, but the batch
/// must hold ≥ 2 sequences and more is better); pass stored vectors to use those instead. The paper leaves this
/// choice open.
/// </remarks>
public static class PositionalVectorReplacement
{
    /// <summary>
    /// Interpolated positional vectors p̂ <c>[length, D]</c> from in-window vectors <paramref name="inWindow"/>
    /// <c>[C, D]</c>. Rows t &lt; <paramref name="keepFirst"/> are the original rows.
    /// </summary>
    public static Tensor Interpolate(Tensor inWindow, int length, double ratio, int keepFirst = 4, bool fromAnchors = true)
    {
        Shapes.Rank(inWindow, 2, nameof(inWindow), "[C, D]");
        Shapes.Floating(inWindow, nameof(inWindow));
        long c = inWindow.shape[0];
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        if (!(ratio > 0) || double.IsInfinity(ratio)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must be a positive number.");
        if (keepFirst < 0 || keepFirst >= c)
            throw new ArgumentOutOfRangeException(nameof(keepFirst), keepFirst, $"keepFirst must be in 0…C−1 = {c - 1}.");
        using var scope = NewDisposeScope();
        var t = arange(length, ScalarType.Float64, inWindow.device);
        var origin = fromAnchors ? keepFirst : 0.0;
        var position = ((t - origin) / ratio + origin).clamp(0, c - 1);                      // fractional source position
        position = where(t < keepFirst, t.clamp(max: c - 1), position);
        var below = position.floor().to(ScalarType.Int64).clamp(max: c - 1);
        var above = (below + 1).clamp(max: c - 1);
        var weight = (position - below.to(ScalarType.Float64)).unsqueeze(1).to(inWindow.dtype);   // [length, 1]
        var lower = inWindow.index_select(0, below);
        var upper = inWindow.index_select(0, above);
        return (lower + weight * (upper - lower)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>h − current + α·replacement</c> for tokens t ≥ <paramref name="keepFirst"/>, h unchanged for t &lt; k.
    /// </summary>
    /// <param name="hidden"><c>[B, T, D]</c></param>
    /// <param name="current">positional vectors to remove <c>[T, D]</c></param>
    /// <param name="replacement">positional vectors to insert <c>[T, D]</c></param>
    /// <param name="alpha">α, the scale of the inserted vectors</param>
    /// <param name="keepFirst">k, the number of leading tokens left unchanged</param>
    public static Tensor Replace(Tensor hidden, Tensor current, Tensor replacement, double alpha = 1.0, int keepFirst = 4)
    {
        Shapes.Rank(hidden, 3, nameof(hidden), "[B, T, D]");
        long t = hidden.shape[1], d = hidden.shape[2];
        Shapes.Exactly(current, nameof(current), "[T, D]", t, d);
        Shapes.Exactly(replacement, nameof(replacement), "[T, D]", t, d);
        if (keepFirst < 0) throw new ArgumentOutOfRangeException(nameof(keepFirst), keepFirst, "keepFirst must be ≥ 0.");
        using var scope = NewDisposeScope();
        var delta = alpha * replacement.to(hidden.dtype).to(hidden.device) - current.to(hidden.dtype).to(hidden.device);   // [T, D]
        var keep = (arange(t, device: hidden.device) < keepFirst).unsqueeze(1);                // [T, 1]
        delta = delta.masked_fill(keep, 0);
        return (hidden + delta).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A <see cref="CausalLM.Forward(Tensor, Func{int, Tensor, Tensor}?)"/> hook applying the replacement after layer
    /// <paramref name="layer"/> (0 = embeddings), with p̂ interpolated from <paramref name="inWindow"/> (measured at the
    /// training length C) at ratio <paramref name="ratio"/>. The removed p is the batch mean at that layer unless
    /// <paramref name="longVectors"/> <c>[≥T, D]</c> is given.
    /// </summary>
    public static Func<int, Tensor, Tensor> Hook(PositionalDecomposition inWindow, int layer, double ratio, double alpha = 1.0,
        int keepFirst = 4, Tensor? longVectors = null, bool fromAnchors = true)
    {
        ArgumentNullException.ThrowIfNull(inWindow);
        inWindow.CheckLayer(layer, nameof(layer));
        if (!(ratio > 0)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must be > 0.");
        if (keepFirst < 0 || keepFirst >= inWindow.Length)
            throw new ArgumentOutOfRangeException(nameof(keepFirst), keepFirst, $"keepFirst must be in 0…{inWindow.Length - 1}.");
        if (longVectors is not null) Shapes.Exactly(longVectors, nameof(longVectors), "[T, D]", -1, inWindow.DModel);
        var source = inWindow.P[layer];
        return (l, h) =>
        {
            if (l != layer) return h;
            long t = h.shape[1];
            Tensor current;
            if (longVectors is not null)
            {
                if (longVectors.shape[0] < t)
                    throw new ArgumentException($"longVectors must have shape [T ≥ {t}, {inWindow.DModel}], got {Shapes.Describe(longVectors)}.", nameof(longVectors));
                current = longVectors[..(int)t];
            }
            else
            {
                if (h.shape[0] < 2)
                    throw new InvalidOperationException("Positional-vector replacement estimates p from the batch mean: run it on batches of ≥ 2 sequences (better ≥ 8), or pass longVectors.");
                current = h.mean(new long[] { 0 });
            }
            var target = Interpolate(source.to(h.device), (int)t, ratio, keepFirst, fromAnchors);
            return Replace(h, current, target, alpha, keepFirst);
        };
    }
}
