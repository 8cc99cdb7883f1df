using static TorchSharp.torch;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Ground truth for forgetting attention: the explicit O(T²) formula
/// O = softmax(scale·QKᵀ + D)·V with D_ij = c_i − c_j (j ≤ i), −∞ above the diagonal (<see cref="ForgetGate.DecayBias"/>).
/// Convention (plain FoX): the decay bias is added UNSCALED to the already scaled logit; scale defaults to 1/√d.
/// Runs in the inputs' dtype (float64 for exactness tests); the bias is float32 at least.
/// </summary>
public static class ForgettingAttentionNaive
{
    /// <param name="q">queries <c>[B, H, T, D]</c></param>
    /// <param name="k">keys <c>[B, H, T, D]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logForget">log forget gates log fₜ ≤ 0, finite, <c>[B, H, T]</c></param>
    /// <param name="scale">logit scale; null = 1/√D</param>
    /// <returns>O <c>[B, H, T, Dv]</c> in q's dtype</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor logForget, double? scale = null)
    {
        using var scope = NewDisposeScope();
        var p = Probabilities(q, k, logForget, scale);
        Inputs.CheckValues(v, q);
        return p.to(v.dtype).matmul(v).to(q.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attention probabilities softmax(scale·QKᵀ + D) <c>[B, H, T, T]</c> (rows sum to 1, zero above the diagonal),
    /// in the promoted dtype of q and the bias (float32 for bf16/fp32 inputs, float64 for float64).
    /// </summary>
    public static Tensor Probabilities(Tensor q, Tensor k, Tensor logForget, double? scale = null)
    {
        Inputs.CheckQueryKey(q, k);
        ForgetGate.CheckLogForget(logForget, q, nameof(logForget));
        ForgetGate.CheckDomain(logForget, q, nameof(logForget));
        using var scope = NewDisposeScope();
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[^1]);
        var bias = ForgetGate.DecayBias(logForget);                                  // [B, H, T, T]
        var logits = q.matmul(k.transpose(-2, -1)).to(bias.dtype) * s + bias;
        return logits.softmax(-1).MoveToOuterDisposeScope();
    }
}
