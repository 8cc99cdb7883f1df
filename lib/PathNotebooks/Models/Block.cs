using PathNotebooks.Mixers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Models;

/// <summary>Pre-LayerNorm block: x + Mixer(LN(x)), then x + MLP(LN(x)). The mixer is the layer's spec from the config.</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    readonly LayerNorm ln1, ln2;
    readonly Linear up, down;

    /// <summary>The block's token mixer (attention, PaTH, FoX, …).</summary>
    public TokenMixer Mixer { get; }

    public Block(ModelConfig config, int index) : base($"block{index}")
    {
        ln1 = nn.LayerNorm(config.DModel);
        ln2 = nn.LayerNorm(config.DModel);
        Mixer = config.MixerAt(index).Create(config.MixerDimensions);
        int hidden = (int)Math.Round(config.MlpRatio * config.DModel);
        up = nn.Linear(config.DModel, hidden);
        down = nn.Linear(hidden, config.DModel);
        register_module("mixer", Mixer);
        RegisterComponents();
    }

    /// <param name="x"><c>[B, T, DModel]</c></param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + Mixer.forward(ln1.forward(x));
        x = x + down.forward(F.gelu(up.forward(ln2.forward(x))));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>What the mixer of this block sees for the block input <paramref name="x"/> <c>[B, T, DModel]</c>: LN(x)
    /// (e.g. to ask a trained mixer which blocks it selects, or what its gates are, on real hidden states).</summary>
    public Tensor MixerInput(Tensor x) => ln1.forward(x);

    /// <summary>One decoding step: the same block on one token per sequence.</summary>
    /// <param name="x"><c>[B, DModel]</c></param>
    /// <param name="state">the mixer's state</param>
    /// <returns><c>[B, DModel]</c></returns>
    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        x = x + Mixer.Step(ln1.forward(x), state);
        x = x + down.forward(F.gelu(up.forward(ln2.forward(x))));
        return x.MoveToOuterDisposeScope();
    }
}
