using PathNotebooks.Cuda;
using PathNotebooks.Mixers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Forgetting;

/// <summary>
/// The Forgetting Transformer attention layer (FoX): causal softmax attention whose logits get the data-dependent
/// decay bias D_ij = Σ_{l=j+1..i} log f_l, with a per-head forget gate fₜ = σ(w_fᵀxₜ + b_f) from
/// <c>Linear(DModel → Heads, bias)</c>. No RoPE. The "Pro" switches of <see cref="FoxSpec"/>:
/// <see cref="FoxSpec.QkNorm"/> (per-head RMSNorm of q and k), <see cref="FoxSpec.KvShift"/>
/// (k̃ₜ = αₜk_{t−1} + (1 − αₜ)kₜ, same for v, αₜ = σ(w_sᵀxₜ + b_s) per head) and <see cref="FoxSpec.OutputGate"/>
/// (per-head RMSNorm of the attention output, then ⊙ σ(W_og x) before the output projection). Decodes with a
/// <see cref="FoxState"/>.
/// </summary>
public sealed class ForgettingAttention : TokenMixer
{
    // Declaration order is registration order, which fixes the order of initial weights: keep it.
    readonly HeadProjections projections;
    readonly Linear forgetGate;
    readonly Linear? shiftGate, outputGate;
    readonly Parameter? queryNorm, keyNorm, outputNorm;                            // RMSNorm scales [H, D], start at 1
    readonly FoxSpec spec;
    readonly double gateScale;                                                     // 1, or 1/√d with ScaleGateByInverseSqrtHeadDim

    public ForgettingAttention(FoxSpec spec, MixerDimensions dimensions) : base("FoXAttention", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        gateScale = spec.ScaleGateByInverseSqrtHeadDim ? 1.0 / Math.Sqrt(dimensions.HeadDim) : 1.0;
        int d = dimensions.DModel, h = dimensions.Heads, hd = dimensions.HeadDim;
        // Shared weights first, so layers built with the same seed agree on them whatever the Pro switches.
        projections = new HeadProjections(dimensions, QkvLayout.Separate);
        forgetGate = nn.Linear(d, h, hasBias: true);
        if (spec.KvShift) shiftGate = nn.Linear(d, h, hasBias: true);
        if (spec.QkNorm) { queryNorm = new Parameter(ones(h, hd)); keyNorm = new Parameter(ones(h, hd)); }
        if (spec.OutputGate) { outputGate = nn.Linear(d, d, hasBias: false); outputNorm = new Parameter(ones(h, hd)); }
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>Log forget gates log fₜ of the last forward, <c>[B, H, T]</c> (float32, detached, CPU): draw exp of it as a heatmap.
    /// With <see cref="FoxSpec.ScaleGateByInverseSqrtHeadDim"/> these are the effective gates, log f/√d, the ones that enter D.</summary>
    public Tensor? LastLogForget { get; private set; }

    /// <summary>KV-shift mixing weights αₜ of the last forward, <c>[B, H, T]</c> (detached, CPU); null without <see cref="FoxSpec.KvShift"/>.</summary>
    public Tensor? LastShiftGate { get; private set; }

    /// <summary>The KV-shift gate projection (null when the switch is off); tests pin α through it.</summary>
    internal Linear? ShiftGate => shiftGate;

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        Shapes.Floating(x, nameof(x));
        using var scope = NewDisposeScope();
        var (q, k, v) = projections.Split(x);                                         // [B, H, T, D] each
        var logForget = ForgetGate.LogForget(forgetGate.forward(x)).transpose(1, 2);  // [B, H, T] float32
        if (gateScale != 1.0) logForget = logForget * gateScale;                        // D/√d: PaTH-FoX's prior
        Remember(LastLogForget, logForget, l => LastLogForget = l);

        if (shiftGate is not null)
        {
            var alpha = shiftGate.forward(x).sigmoid().transpose(1, 2);                // [B, H, T]
            Remember(LastShiftGate, alpha, a => LastShiftGate = a);
            k = KvShift(k, alpha);
            v = KvShift(v, alpha);
        }
        if (queryNorm is not null) { q = HeadRmsNorm(q, queryNorm); k = HeadRmsNorm(k, keyNorm!); }

        Tensor o;                                                                      // [B, H, T, D]
        if (CaptureAttention)
        {
            var p = ForgettingAttentionNaive.Probabilities(q, k, logForget);
            Keep(p);
            o = p.to(v.dtype).matmul(v);
        }
        else if (spec.Kernel.Fused == FusedKernelUse.CastFloat32ToBf16 && q.dtype == ScalarType.Float32
                 && FusedAttention.WhyNot(q.device_type, ScalarType.BFloat16, q.shape[3]) is null)
            // Mixed-precision attention: bf16 operands, float32 accumulation and gate sums; output back in float32.
            o = FusedAttention.Forward(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16), logForget,
                skipMargin: spec.Kernel.FusedSkipMargin).to(ScalarType.Float32);
        else
            o = ForgettingAttentionFast.ForwardUnchecked(q, k, v, logForget.to(ForgetGate.GateDType(q.dtype)), scale: null, spec.Kernel);

        if (outputGate is not null) o = HeadRmsNorm(o, outputNorm!);
        var y = projections.Merge(o);                                                  // [B, T, DModel]
        if (outputGate is not null) y = y * outputGate.forward(x).sigmoid();
        return projections.Output(y).MoveToOuterDisposeScope();
    }

    public override MixerState NewState(long batch) => new FoxState(batch);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="FoxState"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var fox = CheckStep<FoxState>(x, state);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (q, k, v) = projections.Split(x.unsqueeze(1));                            // [B, H, 1, D] each
        var logForget = ForgetGate.LogForget(forgetGate.forward(x));                   // [B, H] float32 (float64 kept)
        if (gateScale != 1.0) logForget = logForget * gateScale;
        if (shiftGate is not null)
        {
            var alpha = shiftGate.forward(x).sigmoid().to(x.dtype).unsqueeze(-1).unsqueeze(-1);   // [B, H, 1, 1]
            Tensor previousK = fox.LastKey?.unsqueeze(2) ?? zeros_like(k), previousV = fox.LastValue?.unsqueeze(2) ?? zeros_like(v);
            fox.RememberRaw(k.squeeze(2), v.squeeze(2));
            k = alpha * previousK + (1 - alpha) * k;
            v = alpha * previousV + (1 - alpha) * v;
        }
        if (queryNorm is not null) { q = HeadRmsNorm(q, queryNorm); k = HeadRmsNorm(k, keyNorm!); }
        fox.Append(k.squeeze(2), v.squeeze(2), logForget.to(ForgetGate.GateDType(q.dtype)));

        double scale = 1.0 / Math.Sqrt(Dimensions.HeadDim);
        var c = fox.Cumulative!;                                                       // [B, H, n]
        var logits = fox.Keys!.matmul(q.transpose(-2, -1)).squeeze(-1).to(c.dtype) * scale
            + (c[.., .., ^1..] - c);                                                   // decay bias c_t − c_j
        var o = logits.softmax(-1).to(v.dtype).unsqueeze(2).matmul(fox.Values!);      // [B, H, 1, D]
        if (outputGate is not null) o = HeadRmsNorm(o, outputNorm!);
        var y = projections.Merge(o);                                                  // [B, 1, DModel]
        if (outputGate is not null) y = y * outputGate.forward(x.unsqueeze(1)).sigmoid();
        return projections.Output(y).squeeze(1).MoveToOuterDisposeScope();
    }

    static void Remember(Tensor? old, Tensor value, Action<Tensor> set)
    {
        old?.Dispose();
        set(value.detach().cpu().DetachFromDisposeScope());
    }

    /// <summary>
    /// KV shift: x̃ₜ = αₜ·x_{t−1} + (1 − αₜ)·xₜ with x_{−1} = 0. α = 0 leaves x unchanged; α = 1 is a one-token delay.
    /// </summary>
    /// <param name="x">keys or values <c>[B, H, T, D]</c></param>
    /// <param name="alpha">mixing weights in [0, 1] <c>[B, H, T]</c></param>
    /// <returns><c>[B, H, T, D]</c></returns>
    public static Tensor KvShift(Tensor x, Tensor alpha)
    {
        Shapes.Rank(x, 4, nameof(x), "[B, H, T, D]");
        Shapes.Exactly(alpha, nameof(alpha), "[B, H, T]", x.shape[0], x.shape[1], x.shape[2]);
        using var scope = NewDisposeScope();
        var previous = F.pad(x, new long[] { 0, 0, 1, 0 })[.., .., ..(int)x.shape[2]];    // x_{t−1}, zero at t = 0
        var a = alpha.to(x.dtype).unsqueeze(-1);
        return (a * previous + (1 - a) * x).MoveToOuterDisposeScope();
    }

    /// <summary>Per-head RMSNorm over the head dimension: x / √(mean x² + ε) · scale, x <c>[B, H, T, D]</c>, scale <c>[H, D]</c>.</summary>
    public static Tensor HeadRmsNorm(Tensor x, Tensor scale, double eps = 1e-6)
    {
        Shapes.Rank(x, 4, nameof(x), "[B, H, T, D]");
        Shapes.Exactly(scale, nameof(scale), "[H, D]", x.shape[1], x.shape[3]);
        using var scope = NewDisposeScope();
        var normalised = x * (x.pow(2).mean(new long[] { -1 }, keepdim: true) + eps).rsqrt();
        return (normalised * scale.to(x.dtype).unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
