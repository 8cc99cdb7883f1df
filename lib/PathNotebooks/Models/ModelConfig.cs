using PathNotebooks.Mixers;
using PathNotebooks.Softmax;

namespace PathNotebooks.Models;

/// <summary>
/// A small causal transformer, the model family every notebook trains. Plain data: copy with <c>with { … }</c>.
/// The token mixer of each layer comes from <see cref="Mixers"/> (one spec for every layer, or a hybrid pattern).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Number of token ids.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Hidden width.</summary>
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    /// <summary>MLP hidden width = ratio × DModel (GELU).</summary>
    public double MlpRatio { get; init; } = 4;
    /// <summary>The token mixer of each layer: a <see cref="MixerSpec"/> for all layers (converts implicitly), or a
    /// <see cref="LayerPattern"/> with per-layer overrides. Default: RoPE softmax attention.</summary>
    public LayerPattern Mixers { get; init; } = new SoftmaxAttentionSpec();
    /// <summary>Std of the normal initialisation of linear and embedding weights.</summary>
    public double InitStd { get; init; } = 0.02;

    public int HeadDim => DModel / Heads;

    /// <summary>Widths of every layer's mixer.</summary>
    public MixerDimensions MixerDimensions => new(DModel, Heads);

    /// <summary>The spec of layer <paramref name="layer"/> (0-based).</summary>
    public MixerSpec MixerAt(int layer) => Mixers.For(layer);

    /// <summary>"RoPE", or the per-layer names of a hybrid stack.</summary>
    public string MixerName => Mixers.Describe(Layers);

    /// <summary>Checks the numbers fit together, and every layer's spec against the widths; throws naming the field.</summary>
    public ModelConfig Validate()
    {
        if (VocabSize < 2) throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, "VocabSize must be ≥ 2.");
        if (DModel <= 0 || Heads <= 0 || DModel % Heads != 0)
            throw new ArgumentException($"DModel ({DModel}) must be a positive multiple of Heads ({Heads}).", nameof(DModel));
        if (Layers <= 0) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Layers must be ≥ 1.");
        if (!(MlpRatio > 0)) throw new ArgumentOutOfRangeException(nameof(MlpRatio), MlpRatio, "MlpRatio must be > 0.");
        if (!(InitStd > 0)) throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "InitStd must be > 0.");
        ArgumentNullException.ThrowIfNull(Mixers, nameof(Mixers));
        foreach (var spec in Mixers.Resolve(Layers)) spec.Check(MixerDimensions);
        return this;
    }
}
