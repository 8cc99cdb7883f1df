using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Models;

/// <summary>
/// The kit's small causal language model: token embedding → blocks → LayerNorm → vocabulary logits.
/// The position encoding lives entirely in the attention layers (<see cref="ModelConfig.Encoding"/>).
/// </summary>
public sealed class CausalLM : nn.Module<Tensor, Tensor>
{
    readonly Embedding embed;
    readonly ModuleList<Block> blocks;
    readonly LayerNorm lnFinal;
    readonly Linear head;

    public ModelConfig Config { get; }
    public IReadOnlyList<Block> Blocks => blocks.ToList();

    public CausalLM(ModelConfig config) : base($"CausalLM_{config.Encoding}")
    {
        Config = config.Validate();
        embed = nn.Embedding(config.VocabSize, config.DModel);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Layers).Select(i => new Block(config, i)).ToArray());
        lnFinal = nn.LayerNorm(config.DModel);
        head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
        RegisterComponents();
        InitWeights(config.InitStd);
    }

    void InitWeights(double std)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("bias")) nn.init.zeros_(p);
            else if (p.dim() >= 2 && !name.Contains("conv")) nn.init.normal_(p, 0, std);
        }
    }

    /// <summary>
    /// A fresh model for an experiment: seeds torch with <paramref name="seed"/> through <see cref="Kit.Seed"/> (so run.json
    /// records it), builds the model — its initial weights depend only on the seed — and moves it to the run's device.
    /// </summary>
    public static CausalLM Seeded(ModelConfig config, int seed)
    {
        Kit.Seed(seed);
        var model = new CausalLM(config);
        model.to(Runtime.TorchRuntime.Device);
        return model;
    }

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <param name="tokens">token ids <c>[B, T]</c> (int64)</param>
    /// <returns>logits <c>[B, T, V]</c></returns>
    public override Tensor forward(Tensor tokens) => Forward(tokens, null);

    /// <summary>
    /// Forward with a hook on the residual stream: <paramref name="afterLayer"/>(l, h) sees the hidden states
    /// <c>[B, T, DModel]</c> after layer l (l = 0 is the embedding output, l = 1 … Layers after each block) and returns
    /// what flows on (return h unchanged to only observe).
    /// </summary>
    public Tensor Forward(Tensor tokens, Func<int, Tensor, Tensor>? afterLayer)
    {
        Shapes.Rank(tokens, 2, nameof(tokens), "[B, T]");
        if (tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"tokens must be int64 token ids of shape [B, T], got {Shapes.Describe(tokens)}.", nameof(tokens));
        using var scope = NewDisposeScope();
        var h = embed.forward(tokens);
        if (afterLayer != null) h = afterLayer(0, h);
        for (int l = 0; l < blocks.Count; l++)
        {
            h = blocks[l].forward(h);
            if (afterLayer != null) h = afterLayer(l + 1, h);
        }
        return head.forward(lnFinal.forward(h)).MoveToOuterDisposeScope();
    }

    /// <summary>Turns attention-probability capture on or off in every layer.</summary>
    public void CaptureAttention(bool on)
    {
        foreach (var b in blocks) b.Attention.CaptureAttention = on;
    }
}
