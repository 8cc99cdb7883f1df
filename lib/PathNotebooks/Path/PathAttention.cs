using PathNotebooks.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.PaTH;

/// <summary>
/// Multi-head PaTH attention layer (Yang et al. 2025; see docs/path.md, "Definition"), and PaTH-FoX when
/// <see cref="ModelConfig.Encoding"/> is <see cref="PositionEncoding.PaTHFoX"/> (one class, the forget gate is switched
/// on by the config; see <see cref="UsesForgetGate"/>). No other position signal is used: PaTH is the encoding.
/// <list type="bullet">
/// <item>q, k, v, o: bias-free <c>Linear(DModel → DModel)</c>, split into heads.</item>
/// <item>w: low-rank <c>Linear(DModel → PathLowRank → DModel)</c>, causal depthwise conv1d (kernel 3, no bias), SiLU,
/// then L2-normalised per head — in float32 (float64 for a float64 model).</item>
/// <item>β = 2·sigmoid(<c>Linear(DModel → Heads, bias)</c>) ∈ (0, 2), float32.</item>
/// <item>PaTH-FoX only: log f = logsigmoid(<c>Linear(DModel → Heads, bias)</c>), float32, added inside the same kernel as
/// <c>scale · (logit + c_i − c_j)</c> (FLA's convention).</item>
/// </list>
/// The forward uses <see cref="PathAttentionChunked.Forward"/> (online softmax, chunk <see cref="ModelConfig.PathChunkSize"/>);
/// with <see cref="AttentionLayer.CaptureAttention"/> on it materialises the probabilities instead.
/// </summary>
public sealed class PathAttention : AttentionLayer
{
    readonly Linear q, k, v, o, wDown, wUp, betaProj;
    readonly Conv1d conv;
    readonly Linear? forgetProj;
    readonly ModelConfig config;

    public PathAttention(ModelConfig config) : base($"{config.Encoding}Attention")
    {
        if (config.Encoding is not (PositionEncoding.PaTH or PositionEncoding.PaTHFoX))
            throw new ArgumentException($"PathAttention handles PaTH and PaTHFoX, not {config.Encoding}.", nameof(config));
        this.config = config.Validate();
        if (config.PathLowRank < 1) throw new ArgumentOutOfRangeException(nameof(config), config.PathLowRank, "PathLowRank must be ≥ 1.");
        if (config.PathChunkSize < 1) throw new ArgumentOutOfRangeException(nameof(config), config.PathChunkSize, "PathChunkSize must be ≥ 1.");
        int dm = config.DModel;
        q = nn.Linear(dm, dm, hasBias: false);
        k = nn.Linear(dm, dm, hasBias: false);
        v = nn.Linear(dm, dm, hasBias: false);
        o = nn.Linear(dm, dm, hasBias: false);
        wDown = nn.Linear(dm, config.PathLowRank, hasBias: false);
        wUp = nn.Linear(config.PathLowRank, dm, hasBias: false);
        conv = nn.Conv1d(dm, dm, 3, groups: dm, bias: false);
        betaProj = nn.Linear(dm, config.Heads, hasBias: true);
        if (config.Encoding == PositionEncoding.PaTHFoX) forgetProj = nn.Linear(dm, config.Heads, hasBias: true);
        ChunkSize = config.PathChunkSize;
        RegisterComponents();
    }

    /// <summary>True for PaTH-FoX (a forget gate log f is added to the logits).</summary>
    public bool UsesForgetGate => forgetProj is not null;

    /// <summary>Chunk size of the blockwise kernel (defaults to the config's; any value gives the same result).</summary>
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
        int h = config.Heads, d = config.HeadDim;
        var dtype = Householder.AccumulationType(x.dtype);
        var low = wUp.forward(wDown.forward(x)).to(dtype).transpose(1, 2);           // [B, DModel, T]
        // causal depthwise conv (position t sees t−2 … t), weights cast so a half-precision model still convolves in fp32
        var mixed = F.silu(F.conv1d(F.pad(low, new long[] { 2, 0 }), conv.weight!.to(dtype), groups: config.DModel));
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
        Shapes.Rank(x, 3, nameof(x), "[B, T, DModel]");
        if (x.shape[2] != config.DModel)
            throw new ArgumentException($"x must have shape [B, T, DModel] with DModel = {config.DModel}, got {Shapes.Describe(x)}.", nameof(x));
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = config.Heads, d = config.HeadDim;
        Tensor Heads(Linear proj) => proj.forward(x).view(b, t, h, d).transpose(1, 2);   // [B, H, T, d]
        Tensor qh = Heads(q), kh = Heads(k), vh = Heads(v);
        var (w, beta, logf) = Transforms(x);
        Tensor y;
        if (CaptureAttention)
        {
            var p = PathAttentionChunked.Probabilities(qh, kh, w, beta, logf, ChunkSize, inverse: config.PathUnitLowerInverse);   // [B, H, T, T]
            Keep(p);
            y = p.matmul(vh.to(p.dtype)).to(x.dtype);
        }
        else
            y = PathAttentionChunked.Forward(qh, kh, vh, w, beta, logf, ChunkSize, inverse: config.PathUnitLowerInverse);
        y = y.transpose(1, 2).reshape(b, t, h * d);                                   // [B, T, DModel]
        return o.forward(y).MoveToOuterDisposeScope();
    }
}
