using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Decoding state of a FoX layer: the KV cache (keys after shift and QK-norm), the cumulative log forget gate
/// <c>c_j</c> of every cached key, and, with KV shift, the previous token's raw key and value. Memory grows by one key,
/// value and gate per token.
/// </summary>
public sealed class FoxState : MixerState
{
    Tensor? keys, values;          // [B, H, n, D]
    Tensor? cumulative;            // [B, H, n]  c_j = Σ_{l ≤ j} log f_l
    Tensor? lastKey, lastValue;    // [B, H, D]  raw k_{t−1}, v_{t−1} (KV shift only)

    public FoxState(long batch) : base(batch) { }

    /// <summary>Cached keys <c>[B, H, n, D]</c>, or null when empty.</summary>
    public Tensor? Keys => keys;
    /// <summary>Cached values <c>[B, H, n, D]</c>, or null when empty.</summary>
    public Tensor? Values => values;
    /// <summary>Cumulative log forget gates <c>[B, H, n]</c>, or null when empty.</summary>
    public Tensor? Cumulative => cumulative;
    /// <summary>The previous token's raw key <c>[B, H, D]</c> (KV shift), or null.</summary>
    public Tensor? LastKey => lastKey;
    /// <summary>The previous token's raw value <c>[B, H, D]</c> (KV shift), or null.</summary>
    public Tensor? LastValue => lastValue;

    protected override IEnumerable<Tensor?> Tensors => new[] { keys, values, cumulative, lastKey, lastValue };

    protected override void DisposeTensors() => keys = values = cumulative = lastKey = lastValue = null;

    /// <summary>Remembers the raw key and value <c>[B, H, D]</c> of this token for the next KV shift.</summary>
    internal void RememberRaw(Tensor k, Tensor v)
    {
        lastKey = Keep(lastKey, k);
        lastValue = Keep(lastValue, v);
    }

    /// <summary>Appends the token's key, value (<c>[B, H, D]</c>) and log gate (<c>[B, H]</c>), and advances.</summary>
    internal void Append(Tensor k, Tensor v, Tensor logForget)
    {
        var c = cumulative is null ? logForget : cumulative[.., .., -1] + logForget;
        keys = Keep(keys, keys is null ? k.unsqueeze(2) : cat(new[] { keys, k.unsqueeze(2) }, 2));
        values = Keep(values, values is null ? v.unsqueeze(2) : cat(new[] { values, v.unsqueeze(2) }, 2));
        cumulative = Keep(cumulative, cumulative is null ? c.unsqueeze(2) : cat(new[] { cumulative, c.unsqueeze(2) }, 2));
        Advance();
    }
}
