using PathNotebooks.Positional;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Forgetting;

/// <summary>
/// The forget-gate arithmetic of the Forgetting Transformer (FoX; Lin, Nikishin, He, Courville, ICLR 2025).
/// Per head and token a scalar gate fₜ = σ(w_fᵀxₜ + b_f) ∈ (0, 1); attention adds the decay bias
/// D_ij = c_i − c_j = Σ_{l=j+1..i} log f_l to the logit of query i and key j (j ≤ i), with cₜ = Σ_{l≤t} log f_l.
/// Everything here stays in log space (never exp(c): at T = 16K a strongly forgetting gate gives c ≈ −1e4 or below)
/// and in at least float32 (float64 inputs stay float64 for exactness tests).
/// </summary>
public static class ForgetGate
{
    /// <summary>float64 stays float64; every other floating type (bf16, fp16, fp32) becomes float32.</summary>
    public static ScalarType GateDType(ScalarType input) => input == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>
    /// log fₜ = logsigmoid(preActivation), computed in float32 (float64 kept). Any shape, e.g. <c>[B, T, H]</c>.
    /// logsigmoid(z) = −softplus(−z) is finite for every finite z, so the gate never reaches log 0 = −∞.
    /// </summary>
    public static Tensor LogForget(Tensor preActivation)
    {
        ArgumentNullException.ThrowIfNull(preActivation, nameof(preActivation));
        Shapes.Floating(preActivation, nameof(preActivation));
        return F.logsigmoid(preActivation.to(GateDType(preActivation.dtype)));
    }

    /// <summary>Cumulative log decay cₜ = Σ_{l≤t} log f_l along the last dimension, accumulated in float32 (float64 kept). <c>[…, T]</c> → <c>[…, T]</c>.</summary>
    public static Tensor Cumulative(Tensor logForget)
    {
        ArgumentNullException.ThrowIfNull(logForget, nameof(logForget));
        Shapes.Floating(logForget, nameof(logForget));
        if (logForget.dim() < 1) throw new ArgumentException($"logForget must have shape [..., T], got {Shapes.Describe(logForget)}.", nameof(logForget));
        var dtype = GateDType(logForget.dtype);
        return logForget.to(dtype).cumsum(-1, dtype);
    }

    /// <summary>
    /// Decay bias <c>[…, T, T]</c> from log gates <c>[…, T]</c> (typically <c>[B, H, T]</c> → <c>[B, H, T, T]</c>):
    /// D_ij = c_i − c_j for j ≤ i, −∞ above the diagonal. Float32 (float64 kept). The difference is taken in log
    /// space, so it is exact up to the rounding of c even when c itself is ≈ −1e4.
    /// </summary>
    public static Tensor DecayBias(Tensor logForget)
    {
        using var scope = NewDisposeScope();
        var c = Cumulative(logForget);
        long t = c.shape[^1];
        var bias = c.unsqueeze(-1) - c.unsqueeze(-2);                                // [..., T, T], row i = query
        var above = ones(t, t, dtype: ScalarType.Bool, device: c.device).triu(1);
        return bias.masked_fill(above, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multiplicative decay matrix exp(D) <c>[…, T, T]</c>: entry (i, j) = ∏_{l=j+1..i} f_l for j ≤ i, 0 above the diagonal.
    /// The factor by which the (unnormalised) score of key j is scaled when query i looks at it. For pictures.
    /// </summary>
    public static Tensor DecayMatrix(Tensor logForget)
    {
        using var scope = NewDisposeScope();
        return DecayBias(logForget).exp().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The log gates that make FoX's bias equal ALiBi's: a constant log f = −slopeₕ per head gives
    /// D_ij = −slopeₕ·(i − j), ALiBi's linear penalty. <c>[H, T]</c> float32, slopes from <see cref="Alibi.Slopes"/>.
    /// ALiBi is thus FoX with a fixed, data-independent gate fₕ = exp(−slopeₕ).
    /// </summary>
    public static Tensor AlibiLogForget(int heads, int length)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        using var scope = NewDisposeScope();
        return (-Alibi.Slopes(heads)).view(-1, 1).expand(heads, length).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Checks log gates <c>[B, H, T]</c> against q <c>[B, H, T, D]</c>; throws naming <paramref name="name"/>.</summary>
    internal static void CheckLogForget(Tensor logForget, Tensor q, string name)
    {
        Shapes.Exactly(logForget, name, "[B, H, T]", q.shape[0], q.shape[1], q.shape[2]);
        Shapes.Floating(logForget, name);
    }

    /// <summary>
    /// The domain of the FoX ops (docs/domains.md): log f in q's dtype or float32, finite and ≤ 0 — a forget gate
    /// f = exp(log f) ∈ (0, 1]. A positive log f would make the decay bias c_i − c_j grow with distance, which the
    /// chunked form's block skipping and the notebooks' reading of f as "how much is kept" both exclude.
    /// </summary>
    internal static void CheckDomain(Tensor logForget, Tensor q, string name)
    {
        Domain.GateDType(logForget, name, q);
        Domain.InRange(logForget, name, double.MinValue, 0, "a forget gate f = exp(log f) lies in (0, 1], so log f is finite and ≤ 0");
    }
}
