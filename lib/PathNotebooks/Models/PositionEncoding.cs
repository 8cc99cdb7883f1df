namespace PathNotebooks.Models;

/// <summary>
/// The position encodings the course compares, by name: a shortcut to their default <see cref="Mixers.MixerSpec"/>
/// (<see cref="PositionEncodings.Spec"/>). Mixers that are not position encodings have only a spec.
/// </summary>
public enum PositionEncoding
{
    /// <summary>No position signal: only the causal mask (Haviv et al. 2022; Kazemnejad et al. 2023).</summary>
    NoPE,
    /// <summary>Rotary embedding of q and k (RoFormer).</summary>
    RoPE,
    /// <summary>Fixed linear distance penalty on the logits (Press et al.).</summary>
    ALiBi,
    /// <summary>Data-dependent Householder products between key and query (PaTH).</summary>
    PaTH,
    /// <summary>Forgetting Transformer: data-dependent forget gate on softmax attention (FoX).</summary>
    FoX,
    /// <summary>PaTH with FoX's forget gate.</summary>
    PaTHFoX,
}
