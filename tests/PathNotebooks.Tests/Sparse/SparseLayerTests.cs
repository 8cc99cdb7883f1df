using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Softmax;
using PathNotebooks.Sparse;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.Sparse;

/// <summary>The native-sparse-attention layer: its spec's checks, its state's growth, its gradients, and a hybrid model that trains and generates.</summary>
[Collection("torch")]
public class SparseLayerTests
{
    static readonly MixerDimensions Dimensions = new(DModel: 16, Heads: 4);

    [Fact]
    public void SpecErrorsNameTheField()
    {
        Assert.Equal("BlockSize", Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { BlockSize = 0 }).ParamName);
        Assert.Equal("SelectedBlocks", Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { SelectedBlocks = 0 }).ParamName);
        Assert.Equal("Window", Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { Window = 0 }).ParamName);
        Assert.Equal("KvHeads", Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { KvHeads = 0 }).ParamName);
        Assert.Equal("RopeBase", Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { RopeBase = 1 }).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new NsaSpec { KvHeads = 3 }.Create(Dimensions));
        Assert.Equal("KvHeads", e.ParamName);
        Assert.Contains("divide Heads (4)", e.Message);
        Assert.Equal("Heads", Assert.Throws<ArgumentException>(() => new NsaSpec().Check(new MixerDimensions(9, 3))).ParamName);
        new NsaSpec { Rope = false }.Check(new MixerDimensions(9, 3));
        var mixer = new NsaSpec { BlockSize = 2 }.Create(Dimensions);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => mixer.forward(randn(2, 5, 8))).ParamName);
        Assert.Equal("NSA", new NsaSpec().Name);
    }

    [Fact]
    public void SelectingMoreBlocksThanASequenceHasIsAnError()
    {
        new NsaSpec { BlockSize = 16, SelectedBlocks = 4 }.CheckLength(64);                 // exactly 4 blocks: fine
        new NsaSpec { BlockSize = 16, SelectedBlocks = 4 }.CheckLength(50);                 // 4 blocks, the last one partial
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new NsaSpec { BlockSize = 16, SelectedBlocks = 5 }.CheckLength(64));
        Assert.Equal("SelectedBlocks", error.ParamName);
        Assert.Contains("4 blocks", error.Message);
    }

    [Fact]
    public void StateGrowsByATokenPerStepAndABlockMeanPerBlock()
    {
        var spec = new NsaSpec { BlockSize = 3, SelectedBlocks = 2, Window = 2, KvHeads = 2 };
        manual_seed(1);
        var mixer = spec.Create(Dimensions);
        mixer.to(float64);
        using var state = mixer.NewState(2);
        long token = 2L * 2 * 2 * 4 * sizeof(double);                     // key + value, B = 2, Hkv = 2, HeadDim 4
        var x = randn(2, 10, 16, dtype: float64);
        for (int t = 0; t < 10; t++)
        {
            mixer.Step(x[.., t], state);
            Assert.Equal((t + 1 + (t + 1) / 3) * token, state.Bytes);
            Assert.Equal(spec.StateBytes(Dimensions, 2, t + 1, ScalarType.Float64), state.Bytes);
        }
        var nsa = (NsaState)state;
        Assert.Equal(new long[] { 2, 2, 3, 4 }, nsa.BlockKeys!.shape);
        Assert.True(Compare.RelativeError(nsa.BlockKeys[.., .., 1], nsa.Keys![.., .., 3..6].mean(new long[] { 2 })) < 1e-15);
    }

    [Fact]
    public void GradientsReachEveryWeightAndSelectionIsExposed()
    {
        manual_seed(2);
        var mixer = (NativeSparseAttention)new NsaSpec { BlockSize = 2, SelectedBlocks = 2, Window = 3, KvHeads = 2 }.Create(Dimensions);
        mixer.InitializeWeights(0.3);
        var x = randn(2, 11, 16);
        mixer.forward(x).square().sum().backward();
        foreach (var (name, p) in mixer.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient for {name}");
        var chosen = mixer.SelectedBlocks(x);
        Assert.Equal(new long[] { 2, 2, 11, 2 }, chosen.shape);
        Assert.Equal(ScalarType.Int64, chosen.dtype);
        Assert.Equal(new long[] { 5, 4 }, chosen[0, 0, 10].data<long>().ToArray());          // query 10: current block 5, previous 4
    }

    [Fact]
    public void HybridModelTrainsAndGenerates()
    {
        var pattern = new LayerPattern(new SoftmaxAttentionSpec()).Every(2, 1, new NsaSpec { BlockSize = 4, SelectedBlocks = 2, Window = 8, KvHeads = 2 });
        var config = new ModelConfig { VocabSize = 23, DModel = 16, Heads = 4, Layers = 2, Mixers = pattern };
        Assert.Equal("RoPE / NSA", config.MixerName);
        manual_seed(3);
        var model = new CausalLM(config);
        Assert.IsType<NativeSparseAttention>(model.Mixers[1]);
        var optimizer = optim.AdamW(model.parameters(), 3e-3);
        var tokens = randint(0, 23, new long[] { 4, 33 }, generator: new Generator(4));
        double first = 0, last = 0;
        for (int step = 0; step < 8; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var logits = model.forward(tokens[.., ..^1]);
            var loss = F.cross_entropy(logits.flatten(0, 1), tokens[.., 1..].flatten());
            loss.backward();
            optimizer.step();
            double value = loss.item<float>();
            Assert.False(double.IsNaN(value), $"NaN loss at step {step}");
            if (step == 0) first = value;
            last = value;
        }
        Assert.True(last < first, $"loss {first} → {last}");
        model.eval();
        var generated = model.Generate(tokens[.., ..5], newTokens: 9);
        Assert.Equal(new long[] { 4, 14 }, generated.shape);
        var full = model.forward(generated);
        Assert.True(full[.., 4..^1].argmax(-1).eq(generated[.., 5..]).all().item<bool>());   // greedy decoding = argmax of the forward
    }
}
