using PathNotebooks.Mixers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PathNotebooks.Models;

/// <summary>
/// The kit's small causal language model: token embedding → blocks → LayerNorm → vocabulary logits.
/// The position encoding lives entirely in the blocks' token mixers (<see cref="ModelConfig.Mixers"/>). Runs over whole
/// sequences (<see cref="forward"/>) or token by token with a <see cref="DecodeState"/> (<see cref="Step"/>,
/// <see cref="Generate"/>); the two agree.
/// </summary>
public sealed class CausalLM : nn.Module<Tensor, Tensor>
{
    readonly Embedding embed;
    readonly ModuleList<Block> blocks;
    readonly LayerNorm lnFinal;
    readonly Linear head;

    public ModelConfig Config { get; }
    public IReadOnlyList<Block> Blocks => blocks.ToList();

    public CausalLM(ModelConfig config) : base("CausalLM")
    {
        Config = config.Validate();
        embed = nn.Embedding(config.VocabSize, config.DModel);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Layers).Select(i => new Block(config, i)).ToArray());
        lnFinal = nn.LayerNorm(config.DModel);
        head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
        RegisterComponents();
        // by module type, in registration order: each mixer sets its own weights (TokenMixer.InitializeWeights)
        WeightInit.NormalLinear(this, config.InitStd);
    }

    /// <summary>
    /// A fresh model: seeds torch with <paramref name="seed"/>, builds the model — its initial weights depend only on
    /// the seed — and moves it to <paramref name="device"/>.
    /// </summary>
    public static CausalLM Seeded(ModelConfig config, int seed, Device device)
    {
        Runtime.TorchRuntime.Seed(seed);
        var model = new CausalLM(config);
        model.to(device);
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
        foreach (var b in blocks) b.Mixer.CaptureAttention = on;
    }

    /// <summary>
    /// The sum of the extra training losses the mixers produced in the last forward (<see cref="TokenMixer.TakeAuxiliaryLoss"/>;
    /// e.g. LTE's sparsity loss), or null when none did. Each mixer hands its loss over once.
    /// </summary>
    public Tensor? TakeAuxiliaryLoss()
    {
        Tensor? total = null;
        foreach (var mixer in Mixers)
        {
            using var part = mixer.TakeAuxiliaryLoss();
            if (part is null) continue;
            var sum = total is null ? part.clone() : total + part;
            total?.Dispose();
            total = sum;
        }
        return total;
    }

    /// <summary>The token mixers, layer 0 first.</summary>
    public IReadOnlyList<TokenMixer> Mixers => blocks.Select(b => b.Mixer).ToList();

    /// <summary>An empty decoding state (every layer's mixer state) for <paramref name="batch"/> sequences.</summary>
    public DecodeState NewDecodeState(long batch) => new(blocks.Select(b => b.Mixer.NewState(batch)).ToList());

    /// <summary>
    /// Consumes one token per sequence and returns the next-token logits: row <see cref="DecodeState.Position"/> of
    /// what <see cref="forward"/> gives for the whole sequence.
    /// </summary>
    /// <param name="tokens">token ids <c>[B]</c> (int64)</param>
    /// <param name="state">from <see cref="NewDecodeState"/>, advanced by every earlier step</param>
    /// <returns>logits <c>[B, V]</c></returns>
    public Tensor Step(Tensor tokens, DecodeState state)
    {
        Shapes.Rank(tokens, 1, nameof(tokens), "[B]");
        if (tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"tokens must be int64 token ids of shape [B], got {Shapes.Describe(tokens)}.", nameof(tokens));
        ArgumentNullException.ThrowIfNull(state);
        if (state.Layers.Count != blocks.Count)
            throw new ArgumentException($"state has {state.Layers.Count} layers, the model {blocks.Count}.", nameof(state));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var h = embed.forward(tokens);                                               // [B, DModel]
        for (int l = 0; l < blocks.Count; l++) h = blocks[l].Step(h, state.Layers[l]);
        return head.forward(lnFinal.forward(h)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Continues every prompt by <paramref name="newTokens"/> tokens, one decoding step per token: greedy (argmax) when
    /// <paramref name="temperature"/> is 0, else sampled from softmax(logits / temperature) with <paramref name="generator"/>.
    /// </summary>
    /// <param name="prompt">token ids <c>[B, T0]</c> (int64, T0 ≥ 1)</param>
    /// <param name="newTokens">tokens to add (≥ 0)</param>
    /// <param name="temperature">0 = greedy; &gt; 0 samples</param>
    /// <param name="generator">random source for sampling (null = torch's default generator)</param>
    /// <returns>prompt and continuation <c>[B, T0 + newTokens]</c></returns>
    public Tensor Generate(Tensor prompt, int newTokens, double temperature = 0, Generator? generator = null)
    {
        Shapes.Rank(prompt, 2, nameof(prompt), "[B, T0]");
        if (prompt.dtype != ScalarType.Int64 || prompt.shape[1] < 1)
            throw new ArgumentException($"prompt must be int64 token ids of shape [B, T0] with T0 ≥ 1, got {Shapes.Describe(prompt)}.", nameof(prompt));
        if (newTokens < 0) throw new ArgumentOutOfRangeException(nameof(newTokens), newTokens, "newTokens must be ≥ 0.");
        if (!(temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be ≥ 0.");
        using var scope = NewDisposeScope();
        using var state = NewDecodeState(prompt.shape[0]);
        var tokens = new List<Tensor>();
        Tensor? logits = null;
        for (int t = 0; t < prompt.shape[1]; t++) { tokens.Add(prompt[.., t]); logits = Step(prompt[.., t], state); }
        for (int n = 0; n < newTokens; n++)
        {
            var next = temperature == 0 ? logits!.argmax(-1)
                : multinomial((logits! / temperature).softmax(-1), 1, generator: generator).squeeze(-1);
            tokens.Add(next);
            if (n + 1 < newTokens) logits = Step(next, state);
        }
        return stack(tokens, 1).MoveToOuterDisposeScope();
    }
}
