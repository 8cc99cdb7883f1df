using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Eviction;

/// <summary>
/// LTE attention as a pure function of queries, keys, values and keep scores: softmax(QKᵀ/√D) restricted to the index
/// sets of <see cref="KeptSet"/>, times V. The keep decision r &gt; 0 is a hard mask; the scores get a gradient through
/// the straight-through estimator of <see cref="StraightThrough"/>. Two forms with the same values and gradients:
/// <see cref="Reference"/> (explicit logits, the mask built by definition; the float64 oracle) and <see cref="Masked"/>
/// (the vectorised mask and libtorch's fused SDPA with a boolean mask).
/// </summary>
public static class LteAttentionOps
{
    /// <summary>
    /// The straight-through estimator: the values unchanged in the forward pass, and in the backward pass the score
    /// r_j gets Σ_d (∂L/∂v_j)_d · v_jd, the gradient it would get if the output used r_j·v_j; v's own gradient is
    /// unchanged. <c>v + (r − r̄)·v̄</c> with r̄, v̄ detached (r − r̄ is exactly 0 forward).
    /// </summary>
    /// <param name="values"><c>[B, H, T, Dv]</c></param>
    /// <param name="scores"><c>[B, H, T]</c></param>
    public static Tensor StraightThrough(Tensor values, Tensor scores)
    {
        Shapes.Rank(values, 4, nameof(values), "[B, H, T, Dv]");
        Shapes.Exactly(scores, nameof(scores), "[B, H, T]", values.shape[0], values.shape[1], values.shape[2]);
        using var scope = NewDisposeScope();
        var delta = (scores - scores.detach()).to(values.dtype).unsqueeze(-1);
        return (values + delta * values.detach()).MoveToOuterDisposeScope();
    }

    /// <summary>Masked SDPA: the fused kernel with the boolean <c>[B, H, T, T]</c> mask of <see cref="KeptSet.Visible"/>.</summary>
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="scores">keep scores <c>[B, H, T]</c> (any floating dtype)</param>
    /// <param name="window">W ≥ 1</param>
    /// <param name="sinks">s ≥ 0</param>
    /// <param name="buffer">null: keep every token with r &gt; 0 (training); else cap at b slots as the decoding cache does</param>
    /// <returns><c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Masked(Tensor q, Tensor k, Tensor v, Tensor scores, int window, int sinks, int? buffer = null)
    {
        Check(q, k, v, scores);
        using var scope = NewDisposeScope();
        var mask = KeptSet.Visible(scores.detach(), window, sinks, buffer);
        return F.scaled_dot_product_attention(q, k, StraightThrough(v, scores), attn_mask: mask).MoveToOuterDisposeScope();
    }

    /// <summary>The reference: explicit logits, −∞ outside the index sets built one query at a time
    /// (<see cref="KeptSet.VisibleByDefinition"/>), softmax, times the straight-through values. Slow; for tests and the oracle.</summary>
    public static Tensor Reference(Tensor q, Tensor k, Tensor v, Tensor scores, int window, int sinks, int? buffer = null)
    {
        Check(q, k, v, scores);
        using var scope = NewDisposeScope();
        var visible = KeptSet.VisibleByDefinition(scores.detach(), window, sinks, buffer);
        var logits = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(q.shape[^1]);
        var p = logits.masked_fill(visible.logical_not(), double.NegativeInfinity).softmax(-1);
        return p.matmul(StraightThrough(v, scores)).MoveToOuterDisposeScope();
    }

    static void Check(Tensor q, Tensor k, Tensor v, Tensor scores)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        Shapes.Floating(q, nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, D]", q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", q.shape[0], q.shape[1], q.shape[2], -1);
        Shapes.Exactly(scores, nameof(scores), "[B, H, T]", q.shape[0], q.shape[1], q.shape[2]);
        Domain.SameDType(k, nameof(k), q, nameof(q));
        Domain.SameDType(v, nameof(v), q, nameof(q));
    }
}
