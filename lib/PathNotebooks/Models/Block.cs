using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Models;

/// <summary>Pre-LayerNorm block: x + Attn(LN(x)), then x + MLP(LN(x)).</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    readonly LayerNorm ln1, ln2;
    readonly Linear up, down;
    public AttentionLayer Attention { get; }

    public Block(ModelConfig config, int index) : base($"block{index}")
    {
        ln1 = nn.LayerNorm(config.DModel);
        ln2 = nn.LayerNorm(config.DModel);
        Attention = AttentionLayers.Create(config, index);
        int hidden = (int)Math.Round(config.MlpRatio * config.DModel);
        up = nn.Linear(config.DModel, hidden);
        down = nn.Linear(hidden, config.DModel);
        register_module("attention", Attention);
        RegisterComponents();
    }

    /// <param name="x"><c>[B, T, DModel]</c></param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + Attention.forward(ln1.forward(x));
        x = x + down.forward(F.gelu(up.forward(ln2.forward(x))));
        return x.MoveToOuterDisposeScope();
    }
}
