using PathNotebooks.Forgetting;
using PathNotebooks.Mixers;
using PathNotebooks.PaTH;
using PathNotebooks.Softmax;

namespace PathNotebooks.Models;

/// <summary>Maps a <see cref="PositionEncoding"/> to the spec of its mixer, and to its label.</summary>
public static class PositionEncodings
{
    /// <summary>The default spec of <paramref name="encoding"/>: softmax attention for NoPE/RoPE/ALiBi, PaTH (with the
    /// forget gate for PaTH-FoX), FoX. Adjust it with <c>with { … }</c> on the concrete record.</summary>
    public static MixerSpec Spec(PositionEncoding encoding) => encoding switch
    {
        PositionEncoding.NoPE => new SoftmaxAttentionSpec { Position = AttentionPosition.NoPE },
        PositionEncoding.RoPE => new SoftmaxAttentionSpec { Position = AttentionPosition.RoPE },
        PositionEncoding.ALiBi => new SoftmaxAttentionSpec { Position = AttentionPosition.ALiBi },
        PositionEncoding.PaTH => new PathSpec(),
        PositionEncoding.PaTHFoX => new PathSpec { ForgetGate = true },
        PositionEncoding.FoX => new FoxSpec(),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "unknown position encoding"),
    };

    /// <summary>The label used in tables and legends ("PaTH-FoX" for <see cref="PositionEncoding.PaTHFoX"/>).</summary>
    public static string Name(PositionEncoding encoding) => Spec(encoding).Name;
}
