using PathNotebooks.Cuda;
using PathNotebooks.Mixers;
using PathNotebooks.PaTH;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.DeltaNet;

/// <summary>
/// The Gated DeltaNet layer (Yang, Kautz, Hatamizadeh, ICLR 2025; see docs/gated-deltanet.md, "The layer"), and
/// DeltaNet when <see cref="GatedDeltaNetSpec.Gate"/> is off. With H heads, Dk = <see cref="KeyDim"/> and
/// Dv = <see cref="ValueDim"/>:
/// <list type="bullet">
/// <item>q, k: bias-free <c>Linear(DModel → H·Dk)</c>, v: <c>Linear(DModel → H·Dv)</c>; each through a causal
/// depthwise convolution (kernel <see cref="GatedDeltaNetSpec.ConvKernel"/>, no bias) and SiLU; q and k L2-normalised
/// per head (unit keys keep every transition I − βkkᵀ a contraction).</item>
/// <item>β = σ(<c>Linear(DModel → H, bias)</c>) ∈ (0, 1): the write strength.</item>
/// <item>g = log α = −exp(A_log) · softplus(<c>Linear(DModel → H)</c>(x) + dt_bias) ≤ 0 (the Mamba-2 form: a
/// per-head rate exp(A_log) times a data-dependent step size). Without the gate g = 0.</item>
/// <item>output: per-head RMSNorm over Dv (one learnable scale shared by the heads), times
/// SiLU(<c>Linear(DModel → H·Dv)</c>(x)), then <c>Linear(H·Dv → DModel)</c>.</item>
/// </list>
/// The forward runs <see cref="GatedDeltaRule.Chunked"/> (or, without gradients on CUDA, the fused kernels of
/// <see cref="FusedGatedDeltaRule"/>; see <see cref="GatedDeltaNetSpec.FusedForward"/>); <see cref="Step"/> runs the token recurrence on a
/// <see cref="GatedDeltaNetState"/>. Gates, β and the memory are float32 for a half-precision model.
/// </summary>
public sealed class GatedDeltaNet : TokenMixer
{
    const double NormEpsilon = 1e-6;

    // Declaration order is registration order, which fixes the order of initial weights: keep it.
    readonly Linear query, key, value;
    readonly Conv1d queryConv, keyConv, valueConv;
    readonly Linear betaProj;
    readonly Linear? decayProj;
    readonly Parameter? aLog, dtBias;                                              // [H]
    readonly Linear outputGate, output;
    readonly Parameter outputNorm;                                                 // [Dv], starts at 1
    readonly GatedDeltaNetSpec spec;

    public GatedDeltaNet(GatedDeltaNetSpec spec, MixerDimensions dimensions) : base(spec?.Name ?? "GDN", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        int dm = dimensions.DModel, h = dimensions.Heads;
        KeyDim = spec.KeyDim(dimensions);
        ValueDim = spec.ValueDim(dimensions);
        int keys = h * KeyDim, values = h * ValueDim;
        query = nn.Linear(dm, keys, hasBias: false);
        key = nn.Linear(dm, keys, hasBias: false);
        value = nn.Linear(dm, values, hasBias: false);
        queryConv = nn.Conv1d(keys, keys, spec.ConvKernel, groups: keys, bias: false);
        keyConv = nn.Conv1d(keys, keys, spec.ConvKernel, groups: keys, bias: false);
        valueConv = nn.Conv1d(values, values, spec.ConvKernel, groups: values, bias: false);
        betaProj = nn.Linear(dm, h, hasBias: true);
        if (spec.Gate)
        {
            decayProj = nn.Linear(dm, h, hasBias: false);
            // Deterministic until InitializeWeights draws them: rates spread over [1, 16], steps geometric in [1e-3, 0.1].
            aLog = new Parameter(linspace(1, 16, h).log());
            dtBias = new Parameter(InverseSoftplus(logspace(-3, -1, h)));
        }
        outputGate = nn.Linear(dm, values, hasBias: false);
        output = nn.Linear(values, dm, hasBias: false);
        outputNorm = new Parameter(ones(ValueDim));
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>Key and query width per head Dk.</summary>
    public int KeyDim { get; }

    /// <summary>Value width per head Dv (the memory of a head is Dk × Dv).</summary>
    public int ValueDim { get; }

    /// <summary>
    /// Linear weights N(0, std²) and biases 0 (<see cref="WeightInit.NormalLinear"/>), then the decay parameters as the
    /// paper: A ~ U(0, 16] stored as A_log = log A, dt log-uniform in [1e-3, 0.1] stored as dt_bias = softplus⁻¹(dt),
    /// both drawn from torch's global generator (seeding the model seeds them).
    /// </summary>
    public override void InitializeWeights(double std)
    {
        base.InitializeWeights(std);
        if (aLog is null || dtBias is null) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var a = 16 * (1 - rand(aLog.shape[0], dtype: ScalarType.Float64));             // (0, 16]
        var dt = (Math.Log(1e-3) + rand(dtBias.shape[0], dtype: ScalarType.Float64) * (Math.Log(0.1) - Math.Log(1e-3))).exp();
        aLog.copy_(a.log());
        dtBias.copy_(InverseSoftplus(dt.clamp_min(1e-4)));
    }

    /// <summary>y with softplus(y) = x, i.e. log(eˣ − 1) = x + log(1 − e⁻ˣ).</summary>
    static Tensor InverseSoftplus(Tensor x) => x + (-(-x).expm1()).log();

    /// <summary>
    /// Per-token decay and write strength of every head, as the forward uses them: log α <c>[B, H, T]</c> (≤ 0; zeros
    /// without the gate) and β <c>[B, H, T]</c> ∈ (0, 1); float32 (float64 for a float64 model). exp of the running sum
    /// of log α from token j + 1 to t is the factor by which the memory has shrunk everything written at j.
    /// </summary>
    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    public (Tensor LogDecay, Tensor Beta) Gates(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        var (g, beta) = GatesOf(x);
        return (g.transpose(1, 2).contiguous().MoveToOuterDisposeScope(), beta.transpose(1, 2).contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// What the layer hands to <see cref="GatedDeltaRule"/>: unit queries and keys <c>[B, H, T, Dk]</c>, values
    /// <c>[B, H, T, Dv]</c> (model dtype), and <see cref="Gates"/>. With these, <see cref="GatedDeltaRule.States"/> shows
    /// the memory after every token.
    /// </summary>
    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    public (Tensor Q, Tensor K, Tensor V, Tensor LogDecay, Tensor Beta) RuleInputs(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        Shapes.Floating(x, nameof(x));
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = Dimensions.Heads;
        Tensor Heads(Tensor projected, Conv1d conv, int width, bool normalise)
        {
            // causal depthwise convolution: position t sees t−K+1 … t (left zero padding)
            var mixed = F.silu(F.conv1d(F.pad(projected.transpose(1, 2), new long[] { spec.ConvKernel - 1, 0 }), conv.weight!, groups: h * width));
            var heads = mixed.transpose(1, 2).view(b, t, h, width);
            if (normalise) heads = F.normalize(heads, p: 2, dim: -1);
            return heads.transpose(1, 2);                                             // [B, H, T, width]
        }
        var q = Heads(query.forward(x), queryConv, KeyDim, normalise: true);
        var k = Heads(key.forward(x), keyConv, KeyDim, normalise: true);
        var v = Heads(value.forward(x), valueConv, ValueDim, normalise: false);
        var (g, beta) = GatesOf(x);
        return (q.MoveToOuterDisposeScope(), k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope(),
            g.transpose(1, 2).MoveToOuterDisposeScope(), beta.transpose(1, 2).MoveToOuterDisposeScope());
    }

    /// <summary>log α and β in the layout of the input's leading dims: <c>[..., H]</c> for x <c>[..., DModel]</c>.</summary>
    (Tensor LogDecay, Tensor Beta) GatesOf(Tensor x)
    {
        var dtype = Householder.AccumulationType(x.dtype);
        var beta = betaProj.forward(x).to(dtype).sigmoid();
        var g = decayProj is null
            ? zeros_like(beta)
            : -aLog!.to(dtype).exp() * F.softplus(decayProj.forward(x).to(dtype) + dtBias!.to(dtype));
        return (g, beta);
    }

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (q, k, v, g, beta) = RuleInputs(x);
        bool training = is_grad_enabled() && RequiresGrad(q, k, v, g, beta);
        var o = training
            ? spec.FusedBackward && FusedGatedDeltaRule.WhyNotBackward(q, v) is null ? FusedGatedDeltaRule.Output(q, k, v, g, beta) : Chunked()
            : spec.FusedForward && FusedGatedDeltaRule.WhyNot(q, v) is null ? FusedGatedDeltaRule.Forward(q, k, v, g, beta).Output : Chunked();   // [B, H, T, Dv]
        Tensor Chunked() => GatedDeltaRule.ChunkedUnchecked(q, k, v, g, beta, spec.ChunkSize, initialState: null, scale: null, spec.Inverse,
            GatedDeltaRule.DefaultChunksPerGroup).Output;
        var merged = Normalise(o).transpose(1, 2).reshape(x.shape[0], x.shape[1], Dimensions.Heads * ValueDim);
        return output.forward(merged * F.silu(outputGate.forward(x))).MoveToOuterDisposeScope();
    }

    static bool RequiresGrad(params Tensor[] tensors) => tensors.Any(t => t.requires_grad);

    public override MixerState NewState(long batch) => new GatedDeltaNetState(batch, spec.ConvKernel);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="GatedDeltaNetState"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var gdn = CheckStep<GatedDeltaNetState>(x, state);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = x.shape[0];
        int h = Dimensions.Heads;
        Tensor Head(int index, Tensor projected, Conv1d conv, int width, bool normalise)
        {
            // the forward's convolution on the window of tokens t−K+1 … t
            var mixed = F.silu((gdn.Window(index, projected) * conv.weight!.squeeze(1)).sum(-1)).view(b, h, width);
            return normalise ? F.normalize(mixed, p: 2, dim: -1) : mixed;
        }
        var q = Head(0, query.forward(x), queryConv, KeyDim, normalise: true);        // [B, H, Dk]
        var k = Head(1, key.forward(x), keyConv, KeyDim, normalise: true);
        var v = Head(2, value.forward(x), valueConv, ValueDim, normalise: false);     // [B, H, Dv]
        var (g, beta) = GatesOf(x);                                                   // [B, H]
        var memory = gdn.Memory ?? zeros(b, h, KeyDim, ValueDim, dtype: Householder.AccumulationType(x.dtype), device: x.device);
        var (o, next) = GatedDeltaRule.StepUnchecked(memory, q, k, v, g, beta, scale: null);
        gdn.Update(next);
        var merged = Normalise(o).reshape(b, h * ValueDim);
        return output.forward(merged * F.silu(outputGate.forward(x))).MoveToOuterDisposeScope();
    }

    /// <summary>RMSNorm over the last (value) dimension with the shared learnable scale.</summary>
    Tensor Normalise(Tensor o) => o * (o.pow(2).mean(new long[] { -1 }, keepdim: true) + NormEpsilon).rsqrt() * outputNorm.to(o.dtype);
}
