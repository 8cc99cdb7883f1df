using PathNotebooks.Mixers;

namespace PathNotebooks.Models;

/// <summary>The decoding state of a whole <see cref="CausalLM"/>: one <see cref="MixerState"/> per layer.</summary>
public sealed class DecodeState : IDisposable
{
    internal DecodeState(IReadOnlyList<MixerState> layers) => Layers = layers;

    /// <summary>Per-layer states, layer 0 first.</summary>
    public IReadOnlyList<MixerState> Layers { get; }

    /// <summary>Tokens consumed so far.</summary>
    public int Position => Layers[0].Position;

    /// <summary>Memory of all layers' states, in bytes.</summary>
    public long Bytes => Layers.Sum(l => l.Bytes);

    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
    }
}
