namespace PathNotebooks.Experiments;

/// <summary>How a matrix memory S (<c>[Dk, Dv]</c>) writes a key-value pair, for <see cref="AssociativeMemory"/>.</summary>
public enum MemoryRule
{
    /// <summary>Plain linear attention: S ← S + k vᵀ (every pair is added on top of the others).</summary>
    LinearAttention,
    /// <summary>The delta rule (DeltaNet): S ← S + β k (v − Sᵀk)ᵀ, i.e. overwrite what the memory holds for k.</summary>
    DeltaRule,
    /// <summary>The gated delta rule (GDN): decay S ← α S first, then the delta rule.</summary>
    GatedDeltaRule,
}
