using PathNotebooks.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Forgetting;

/// <summary>
/// The Forgetting Transformer attention layer (FoX): causal softmax attention whose logits get the data-dependent
/// decay bias D_ij = Σ_{l=j+1..i} log f_l, with a per-head forget gate fₜ = σ(w_fᵀxₜ + b_f) from
/// <c>Linear(DModel → Heads, bias)</c>. No RoPE. The "Pro" switches of <see cref="ModelConfig"/>:
/// <see cref="ModelConfig.FoxQkNorm"/> (per-head RMSNorm of q and k), <see cref="ModelConfig.FoxKvShift"/>
/// (k̃ₜ = αₜk_{t−1} + (1 − αₜ)kₜ, same for v, αₜ = σ(w_sᵀxₜ + b_s) per head) and <see cref="ModelConfig.FoxOutputGate"/>
/// (per-head RMSNorm of the attention output, then ⊙ σ(W_og x) before the output projection).
/// </summary>
public sealed class ForgettingAttention : AttentionLayer
{
    readonly ModelConfig config;
    readonly Linear query, key, value, output, forgetGate;
    readonly Linear? shiftGate, outputGate;
    readonly Parameter? queryNorm, keyNorm, outputNorm;                            // RMSNorm scales [H, D]

    public ForgettingAttention(ModelConfig config) : base("FoXAttention")
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Encoding is not (PositionEncoding.FoX))
            throw new ArgumentException($"ForgettingAttention handles FoX, not {config.Encoding}.", nameof(config));
        if (config.Window != null)
            throw new ArgumentException("ForgettingAttention has no sliding window; set Window = null (the forget gate decides what to drop).", nameof(config));
        this.config = config.Validate();
        int d = config.DModel, h = config.Heads, hd = config.HeadDim;
        // Shared weights first, so layers built with the same seed agree on them whatever the Pro switches.
        query = nn.Linear(d, d, hasBias: false);
        key = nn.Linear(d, d, hasBias: false);
        value = nn.Linear(d, d, hasBias: false);
        output = nn.Linear(d, d, hasBias: false);
        forgetGate = nn.Linear(d, h, hasBias: true);
        if (config.FoxKvShift) shiftGate = nn.Linear(d, h, hasBias: true);
        if (config.FoxQkNorm) { queryNorm = new Parameter(ones(h, hd)); keyNorm = new Parameter(ones(h, hd)); }
        if (config.FoxOutputGate) { outputGate = nn.Linear(d, d, hasBias: false); outputNorm = new Parameter(ones(h, hd)); }
        RegisterComponents();
    }

    /// <summary>Log forget gates log fₜ of the last forward, <c>[B, H, T]</c> (float32, detached, CPU): draw exp of it as a heatmap.</summary>
    public Tensor? LastLogForget { get; private set; }

    /// <summary>KV-shift mixing weights αₜ of the last forward, <c>[B, H, T]</c> (detached, CPU); null without <see cref="ModelConfig.FoxKvShift"/>.</summary>
    public Tensor? LastShiftGate { get; private set; }

    /// <summary>The KV-shift gate projection (null when the switch is off); tests pin α through it.</summary>
    internal Linear? ShiftGate => shiftGate;

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, config.DModel);
        Shapes.Floating(x, nameof(x));
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = config.Heads, hd = config.HeadDim;
        Tensor Heads(Tensor y) => y.view(b, t, h, hd).transpose(1, 2);               // [B, T, DModel] → [B, H, T, D]
        var q = Heads(query.forward(x));
        var k = Heads(key.forward(x));
        var v = Heads(value.forward(x));
        var logForget = ForgetGate.LogForget(forgetGate.forward(x)).transpose(1, 2);  // [B, H, T] float32
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
        else
            o = ForgettingAttentionFast.Forward(q, k, v, logForget.to(ForgetGate.GateDType(q.dtype)), options: config.FoxKernel);

        if (outputGate is not null) o = HeadRmsNorm(o, outputNorm!);
        var y = o.transpose(1, 2).reshape(b, t, h * hd);                               // [B, T, DModel]
        if (outputGate is not null) y = y * outputGate.forward(x).sigmoid();
        return output.forward(y).MoveToOuterDisposeScope();
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
