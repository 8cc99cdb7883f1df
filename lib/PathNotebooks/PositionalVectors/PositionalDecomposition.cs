using PathNotebooks.Models;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>
/// The decomposition of hidden states into positional and semantic parts (Dong et al. 2024;
/// docs/positional-vectors.md, "Mean decomposition"):
/// <c>p[l, t] = mean over samples of h[l, t]</c>, mean vector <c>u[l] = mean over t of p[l, t]</c>, positional basis
/// <c>m[l, t] = p[l, t] − u[l]</c>, semantic part <c>h − p</c>. Layer 0 is the embedding output, layer l the output
/// of block l (as in <see cref="CausalLM.Forward(Tensor, Func{int, Tensor, Tensor}?)"/>).
/// </summary>
public sealed class PositionalDecomposition : IDisposable
{
    /// <param name="vectors">p <c>[L+1, T, D]</c></param>
    /// <param name="samples">number of sequences averaged</param>
    public PositionalDecomposition(Tensor vectors, long samples)
    {
        Shapes.Rank(vectors, 3, nameof(vectors), "[L+1, T, D]");
        Shapes.Floating(vectors, nameof(vectors));
        using var scope = NewDisposeScope();
        P = vectors.detach().clone().DetachFromDisposeScope();
        Mean = P.mean(new long[] { 1 }).DetachFromDisposeScope();
        Basis = (P - Mean.unsqueeze(1)).DetachFromDisposeScope();
        Samples = samples;
    }

    /// <summary>Positional vectors p <c>[L+1, T, D]</c>.</summary>
    public Tensor P { get; }
    /// <summary>Mean vectors u <c>[L+1, D]</c> (average of p over positions).</summary>
    public Tensor Mean { get; }
    /// <summary>Positional basis m = p − u <c>[L+1, T, D]</c>.</summary>
    public Tensor Basis { get; }
    /// <summary>Number of sequences averaged.</summary>
    public long Samples { get; }

    /// <summary>Number of hidden-state layers (model layers + 1).</summary>
    public int Layers => (int)P.shape[0];
    /// <summary>Sequence length T the vectors were measured at.</summary>
    public int Length => (int)P.shape[1];
    /// <summary>Hidden width D.</summary>
    public int DModel => (int)P.shape[2];

    /// <summary>Semantic part <c>h − p[layer, :T]</c> of hidden states <paramref name="hidden"/> <c>[B, T, D]</c> (T ≤ <see cref="Length"/>).</summary>
    public Tensor Semantic(int layer, Tensor hidden)
    {
        CheckLayer(layer, nameof(layer));
        Shapes.Exactly(hidden, nameof(hidden), $"[B, T ≤ {Length}, {DModel}]", -1, -1, DModel);
        if (hidden.shape[1] > Length)
            throw new ArgumentException($"hidden must have shape [B, T ≤ {Length}, {DModel}], got {Shapes.Describe(hidden)}.", nameof(hidden));
        using var scope = NewDisposeScope();
        var p = P[layer, ..(int)hidden.shape[1]].to(hidden.dtype).to(hidden.device);
        return (hidden - p).MoveToOuterDisposeScope();
    }

    internal void CheckLayer(int layer, string name)
    {
        if (layer < 0 || layer >= Layers)
            throw new ArgumentOutOfRangeException(name, layer, $"{name} must be in 0…{Layers - 1} (0 = embeddings).");
    }

    public void Dispose() { P.Dispose(); Mean.Dispose(); Basis.Dispose(); }
}
