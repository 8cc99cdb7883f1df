using PathNotebooks.Mixers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.PaTH;

/// <summary>
/// Multi-head PaTH attention layer (Yang et al. 2025; see docs/path.md, "Definition"), and PaTH-FoX when
/// <see cref="PathSpec.ForgetGate"/> is set (one class; see <see cref="UsesForgetGate"/>). No other position signal is
/// used: PaTH is the encoding.
/// <list type="bullet">
/// <item>q, k, v, o: bias-free <c>Linear(DModel → DModel)</c>, split into heads (<see cref="HeadProjections"/>).</item>
/// <item>w: low-rank <c>Linear(DModel → LowRank → DModel)</c>, causal depthwise conv1d (kernel 3, no bias), SiLU,
/// then L2-normalised per head — in float32 (float64 for a float64 model).</item>
/// <item>β = 2·sigmoid(<c>Linear(DModel → Heads, bias)</c>) ∈ (0, 2), float32.</item>
/// <item>PaTH-FoX only: log f = logsigmoid(<c>Linear(DModel → Heads, bias)</c>), float32, added inside the same kernel as
/// <c>scale · (logit + c_i − c_j)</c> (FLA's convention).</item>
/// </list>
/// The forward uses <see cref="PathAttentionChunked.Forward"/> (online softmax, chunk <see cref="ChunkSize"/>); with
/// <see cref="TokenMixer.CaptureAttention"/> on it materialises the probabilities instead. Decoding keeps a
/// <see cref="PathState"/>.
/// </summary>
public sealed class PathAttention : TokenMixer
{
    // Declaration order is registration order, which fixes the order of initial weights: keep it.
    readonly HeadProjections projections;
    readonly Linear wDown, wUp, betaProj;
    readonly Conv1d conv;
    readonly Linear? forgetProj;
    readonly PathSpec spec;

    public PathAttention(PathSpec spec, MixerDimensions dimensions) : base(spec?.Name.Replace("-", "") + "Attention", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        int dm = dimensions.DModel;
        projections = new HeadProjections(dimensions, QkvLayout.Separate);
        wDown = nn.Linear(dm, spec.LowRank, hasBias: false);
        wUp = nn.Linear(spec.LowRank, dm, hasBias: false);
        conv = nn.Conv1d(dm, dm, 3, groups: dm, bias: false);
        betaProj = nn.Linear(dm, dimensions.Heads, hasBias: true);
        if (spec.ForgetGate) forgetProj = nn.Linear(dm, dimensions.Heads, hasBias: true);
        ChunkSize = spec.ChunkSize;
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>True for PaTH-FoX (a forget gate log f is added to the logits).</summary>
    public bool UsesForgetGate => forgetProj is not null;

    /// <summary>Chunk size of the blockwise kernel (defaults to the spec's; any value gives the same result).</summary>
    public int ChunkSize { get; set; }

    /// <summary>
    /// The data-dependent transform parameters of every token: unit <c>w</c> <c>[B, H, T, HeadDim]</c>, <c>β</c>
    /// <c>[B, H, T]</c> and (PaTH-FoX) <c>log f</c> <c>[B, H, T]</c>, all float32 (float64 for a float64 model).
    /// </summary>
    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    public (Tensor W, Tensor Beta, Tensor? LogForget) Transforms(Tensor x)
    {
        Shapes.Rank(x, 3, nameof(x), "[B, T, DModel]");
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = Dimensions.Heads, d = Dimensions.HeadDim;
        var dtype = Householder.AccumulationType(x.dtype);
        var low = wUp.forward(wDown.forward(x)).to(dtype).transpose(1, 2);           // [B, DModel, T]
        // causal depthwise conv (position t sees t−2 … t), weights cast so a half-precision model still convolves in fp32
        var mixed = F.silu(F.conv1d(F.pad(low, new long[] { 2, 0 }), conv.weight!.to(dtype), groups: Dimensions.DModel));
        var w = F.normalize(mixed.transpose(1, 2).view(b, t, h, d), p: 2, dim: -1).transpose(1, 2);   // [B, H, T, d]
        var beta = (2 * betaProj.forward(x).to(dtype).sigmoid()).transpose(1, 2);     // [B, H, T]
        var logf = forgetProj is null ? null : F.logsigmoid(forgetProj.forward(x).to(dtype)).transpose(1, 2);
        return (w.contiguous().MoveToOuterDisposeScope(), beta.contiguous().MoveToOuterDisposeScope(),
            logf?.contiguous().MoveToOuterDisposeScope());
    }

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        var (qh, kh, vh) = projections.Split(x);                                      // [B, H, T, d] each
        var (w, beta, logf) = Transforms(x);
        Tensor y;
        if (CaptureAttention)
        {
            var p = PathAttentionChunked.Probabilities(qh, kh, w, beta, logf, ChunkSize, inverse: spec.Inverse);   // [B, H, T, T]
            Keep(p);
            y = p.matmul(vh.to(p.dtype)).to(x.dtype);
        }
        else
            y = PathAttentionChunked.ForwardUnchecked(qh, kh, vh, w, beta, logf, ChunkSize, scale: null, spec.Inverse);
        return projections.Output(projections.Merge(y)).MoveToOuterDisposeScope();
    }

    public override MixerState NewState(long batch) => new PathState(batch);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="PathState"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var path = CheckStep<PathState>(x, state);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = x.shape[0];
        int h = Dimensions.Heads, d = Dimensions.HeadDim;
        var dtype = Householder.AccumulationType(x.dtype);
        var (q, k, v) = projections.Split(x.unsqueeze(1));                            // [B, H, 1, d] each
        // the same causal conv as Transforms, on the window of tokens t−2 … t
        var window = path.ConvWindow(wUp.forward(wDown.forward(x)).to(dtype));      // [B, DModel, 3]
        var mixed = F.silu((window * conv.weight!.to(dtype).squeeze(1)).sum(-1));   // [B, DModel]
        var w = F.normalize(mixed.view(b, h, d), p: 2, dim: -1);                    // [B, H, d]
        var beta = 2 * betaProj.forward(x).to(dtype).sigmoid();                      // [B, H]
        var logf = forgetProj is null ? null : F.logsigmoid(forgetProj.forward(x).to(dtype));
        var y = path.Cache.Step(q.squeeze(2), k.squeeze(2), v.squeeze(2), w, beta, logf);   // [B, H, d]
        path.Advance();
        return projections.Output(projections.Merge(y.unsqueeze(2))).squeeze(1).MoveToOuterDisposeScope();
    }
}
