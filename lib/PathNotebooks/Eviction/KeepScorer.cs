using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Eviction;

/// <summary>
/// LTE's keep scorer: per head a small non-causal CNN over the token's key (before RoPE) and value, 2·D input channels —
/// three convolutions of kernel 3 and dilation 2 whose channels halve at each layer (2D → D → D/2 → D/4), SiLU after
/// each, then a 1×1 convolution to one logit z per token. The score is r = σ(z) − 0.5 ∈ (−½, ½); the token is kept when
/// r &gt; 0. Each layer sees ±2 tokens, so a score depends on the 6 tokens before and the 6 after
/// (<see cref="ReceptiveField"/> = 13). The heads' CNNs are one grouped convolution (groups = H).
/// </summary>
public sealed class KeepScorer : nn.Module<Tensor, Tensor>
{
    /// <summary>Convolution layers, kernel and dilation of the scorer.</summary>
    public const int Layers = 3, Kernel = 3, Dilation = 2;

    /// <summary>Tokens after (and before) a token that its score reads: Layers·(Kernel − 1)/2·Dilation = 6.</summary>
    public const int LookAhead = Layers * (Kernel - 1) / 2 * Dilation;

    /// <summary>Tokens one score reads: 2·<see cref="LookAhead"/> + 1 = 13.</summary>
    public const int ReceptiveField = 2 * LookAhead + 1;

    /// <summary>Bias of the last layer at initialisation: r = σ(0.5) − 0.5 ≈ 0.12 &gt; 0, so early training keeps every token.</summary>
    public const double InitialBias = 0.5;

    readonly Conv1d first, second, third, projection;
    readonly int heads, headDim;

    /// <param name="heads">heads H (one CNN each)</param>
    /// <param name="headDim">key and value width D per head</param>
    public KeepScorer(int heads, int headDim) : base("KeepScorer")
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, "heads must be ≥ 1.");
        if (headDim < 1) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "headDim must be ≥ 1.");
        this.heads = heads;
        this.headDim = headDim;
        long c0 = 2L * headDim, c1 = Math.Max(1, c0 / 2), c2 = Math.Max(1, c1 / 2), c3 = Math.Max(1, c2 / 2);
        Conv1d Layer(long cin, long cout) => nn.Conv1d(heads * cin, heads * cout, Kernel, padding: LookAhead / Layers, dilation: Dilation, groups: heads);
        first = Layer(c0, c1);
        second = Layer(c1, c2);
        third = Layer(c2, c3);
        projection = nn.Conv1d(heads * c3, heads, 1, groups: heads);
        using (no_grad()) projection.bias!.fill_(InitialBias);
        RegisterComponents();
    }

    /// <summary>Keep scores r = σ(z) − 0.5 of every token.</summary>
    /// <param name="keys">keys before RoPE <c>[B, H, T, D]</c></param>
    /// <param name="values">values <c>[B, H, T, D]</c></param>
    /// <returns><c>[B, H, T]</c> in (−½, ½), in the inputs' dtype; zero padding beyond both ends of the sequence</returns>
    public Tensor Score(Tensor keys, Tensor values)
    {
        Shapes.Exactly(keys, nameof(keys), "[B, H, T, D]", -1, heads, -1, headDim);
        Shapes.Exactly(values, nameof(values), "[B, H, T, D]", keys.shape[0], heads, keys.shape[2], headDim);
        return forward(cat(new[] { keys, values }, -1));
    }

    /// <param name="inputs">keys before RoPE and values side by side <c>[B, H, T, 2D]</c></param>
    /// <returns>keep scores <c>[B, H, T]</c></returns>
    public override Tensor forward(Tensor inputs)
    {
        Shapes.Exactly(inputs, nameof(inputs), "[B, H, T, 2D]", -1, heads, -1, 2 * headDim);
        using var scope = NewDisposeScope();
        long b = inputs.shape[0], t = inputs.shape[2];
        var x = inputs.permute(0, 1, 3, 2).reshape(b, heads * 2L * headDim, t);          // [B, H·2D, T]: group h = head h
        x = F.silu(first.forward(x));
        x = F.silu(second.forward(x));
        x = F.silu(third.forward(x));
        return (projection.forward(x).sigmoid() - 0.5).MoveToOuterDisposeScope();      // [B, H, T]
    }
}
