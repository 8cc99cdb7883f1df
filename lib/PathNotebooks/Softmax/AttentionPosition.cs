namespace PathNotebooks.Softmax;

/// <summary>The fixed position signal of softmax attention.</summary>
public enum AttentionPosition
{
    /// <summary>No position signal: only the causal mask (Haviv et al. 2022; Kazemnejad et al. 2023).</summary>
    NoPE,
    /// <summary>Rotary embedding of q and k (RoFormer).</summary>
    RoPE,
    /// <summary>Fixed linear distance penalty on the logits (Press et al.).</summary>
    ALiBi,
}
