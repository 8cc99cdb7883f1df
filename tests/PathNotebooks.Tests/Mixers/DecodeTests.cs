using PathNotebooks.DeltaNet;
using PathNotebooks.Eviction;
using PathNotebooks.Forgetting;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.PaTH;
using PathNotebooks.Softmax;
using PathNotebooks.Sparse;

namespace PathNotebooks.Tests.Mixers;

/// <summary>Token-by-token decoding with each mixer's state equals the full forward (float64, random weights, odd lengths).</summary>
[Collection("torch")]
public class DecodeTests
{
    static readonly MixerDimensions Dimensions = new(DModel: 12, Heads: 3);

    /// <summary>Every mixer kind and the options that change its state.</summary>
    public static IEnumerable<object[]> Specs() => new MixerSpec[]
    {
        new SoftmaxAttentionSpec { Position = AttentionPosition.NoPE },
        new SoftmaxAttentionSpec { Position = AttentionPosition.RoPE },
        new SoftmaxAttentionSpec { Position = AttentionPosition.RoPE, RopePairing = PathNotebooks.Positional.RopePairing.Interleaved, Window = 4 },
        new SoftmaxAttentionSpec { Position = AttentionPosition.ALiBi },
        new SoftmaxAttentionSpec { Position = AttentionPosition.ALiBi, Window = 3 },
        new SoftmaxAttentionSpec { Position = AttentionPosition.NoPE, Window = 1 },
        new PathSpec { ChunkSize = 4, LowRank = 5 },
        new PathSpec { ChunkSize = 3, LowRank = 5, ForgetGate = true },
        new FoxSpec(),
        new FoxSpec { OutputGate = true, QkNorm = true, KvShift = true },
        new FoxSpec { KvShift = true },
        new GatedDeltaNetSpec(),
        new GatedDeltaNetSpec { Gate = false },
        new GatedDeltaNetSpec { ConvKernel = 1, ChunkSize = 3 },
        new GatedDeltaNetSpec { ValueExpansion = 2, HeadDim = 5, ChunkSize = 4 },
        new NsaSpec { BlockSize = 2, SelectedBlocks = 1, Window = 1, KvHeads = 1 },
        new NsaSpec { BlockSize = 3, SelectedBlocks = 2, Window = 4 },
        new NsaSpec { BlockSize = 2, SelectedBlocks = 3, Window = 2, KvHeads = 3, Rope = false },
        new NsaSpec { BlockSize = 3, SelectedBlocks = 3, Window = 3, KvHeads = 1 },
        new LteSpec { Window = 6, Buffer = 5, Sinks = 2 },
        new LteSpec { Window = 7, Buffer = 2, Sinks = 2, Rope = false },
        new LteSpec { Window = 6, Buffer = 3, Sinks = 0 },
    }.Select(s => new object[] { s });

    static TokenMixer Mixer(MixerSpec spec, int seed)
    {
        manual_seed(seed);
        var mixer = spec.Create(Dimensions);
        mixer.InitializeWeights(0.4);                    // larger than the training init, so attention is far from uniform
        mixer.to(float64);
        mixer.eval();
        return mixer;
    }

    static Tensor Decode(TokenMixer mixer, Tensor x, Action<MixerState>? afterStep = null)
    {
        using var state = mixer.NewState(x.shape[0]);
        var rows = new List<Tensor>();
        for (int t = 0; t < x.shape[1]; t++)
        {
            rows.Add(mixer.Step(x[.., t], state));
            Assert.Equal(t + 1, state.Position);
            afterStep?.Invoke(state);
        }
        return stack(rows, 1);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void StepByStepEqualsFullForward(MixerSpec spec)
    {
        foreach (var (length, seed) in new[] { (1, 1), (7, 2), (13, 3) })
        {
            var mixer = Mixer(spec, seed);
            var x = randn(new long[] { 2, length, Dimensions.DModel }, dtype: float64, generator: new Generator((ulong)(seed + 100)));
            var full = mixer.forward(x);
            var decoded = Decode(mixer, x);
            var error = Compare.RelativeError(decoded, full);
            Assert.True(error < 1e-10, $"{spec.Name} T={length}: relative error {error:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void StateBytesAreWhatTheSpecPredicts(MixerSpec spec)
    {
        foreach (var dtype in new[] { float64, float32 })
        {
            manual_seed(5);
            var mixer = spec.Create(Dimensions);
            mixer.to(dtype);
            mixer.eval();
            var x = randn(new long[] { 2, 9, Dimensions.DModel }, dtype: dtype);
            int step = 0;
            Decode(mixer, x, s => Assert.Equal(spec.StateBytes(Dimensions, 2, ++step, dtype), s.Bytes));
        }
    }

    [Fact]
    public void WindowedCacheIsARingBufferOfConstantSize()
    {
        var mixer = Mixer(new SoftmaxAttentionSpec { Window = 4 }, seed: 4);
        var x = randn(1, 11, Dimensions.DModel, dtype: float64);
        var bytes = new List<long>();
        Decode(mixer, x, s => bytes.Add(s.Bytes));
        // 4 slots × (key + value) × [1, 3, 4] float64 + 4 int64 positions, from the first token on
        long expected = 2 * 4 * 3 * 4 * sizeof(double) + 4 * sizeof(long);
        Assert.All(bytes, b => Assert.Equal(expected, b));
    }

    [Fact]
    public void GatedDeltaNetStateHasConstantSize()
    {
        var spec = new GatedDeltaNetSpec { ValueExpansion = 2 };
        var mixer = Mixer(spec, seed: 4);
        var bytes = new List<long>();
        Decode(mixer, randn(2, 11, Dimensions.DModel, dtype: float64), s => bytes.Add(s.Bytes));
        // memory 3 heads × 4 × 8, and three convolution histories of 3 tokens over 12 + 12 + 24 channels, float64
        long expected = 2 * (3 * 4 * 8 + 3 * (12 + 12 + 24)) * sizeof(double);
        Assert.All(bytes, b => Assert.Equal(expected, b));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void UnboundedStatesGrowByOneTokenPerStep(MixerSpec spec)
    {
        if (spec is SoftmaxAttentionSpec { Window: not null } or GatedDeltaNetSpec or LteSpec) return;   // constant-size states
        if (spec is NsaSpec) return;                    // one token per step plus a block mean every BlockSize steps (SparseLayerTests)
        var mixer = Mixer(spec, seed: 5);
        var bytes = new List<long>();
        Decode(mixer, randn(2, 6, Dimensions.DModel, dtype: float64), s => bytes.Add(s.Bytes));
        var growth = bytes.Zip(bytes.Skip(1), (a, b) => b - a).Distinct().ToList();
        Assert.Single(growth);
        Assert.True(growth[0] >= 2 * 2 * Dimensions.DModel * sizeof(double), $"{spec.Name} grows {growth[0]} bytes per token");
    }

    /// <summary>The hybrid stacks of notebook 05 (GDN with SWA or NSA at the odd layers), and PaTH or FoX dropped in
    /// for the GDN layers: decoding the whole model equals its forward, and the state holds what the specs predict.</summary>
    public static IEnumerable<object[]> HybridStacks()
    {
        var gdn = new GatedDeltaNetSpec { ChunkSize = 4 };
        var swa = new SoftmaxAttentionSpec { Window = 3 };
        var nsa = new NsaSpec { BlockSize = 2, SelectedBlocks = 4, Window = 2 };
        return new LayerPattern[]
        {
            new LayerPattern(gdn).Every(2, 1, swa),
            new LayerPattern(gdn).Every(2, 1, nsa),
            new LayerPattern(gdn).Every(2, 1, new LteSpec { Window = 6, Buffer = 4, Sinks = 1 }),
            new LayerPattern(new FoxSpec()).Every(2, 1, swa),
            new LayerPattern(new PathSpec { ChunkSize = 3, LowRank = 4 }).Every(2, 1, nsa),
        }.Select(p => new object[] { p });
    }

    [Theory]
    [MemberData(nameof(HybridStacks))]
    public void HybridStacksDecodeLikeTheirForward(LayerPattern pattern)
    {
        var config = new ModelConfig { VocabSize = 13, DModel = 12, Heads = 3, Layers = 4, Mixers = pattern, InitStd = 0.3 };
        manual_seed(9);
        var model = new CausalLM(config);
        model.to(float64);
        model.eval();
        var tokens = randint(0, 13, new long[] { 2, 11 }, generator: new Generator(10));
        var full = model.forward(tokens);                                       // [B, T, V]
        using var state = model.NewDecodeState(2);
        var rows = new List<Tensor>();
        for (int t = 0; t < 11; t++) rows.Add(model.Step(tokens[.., t], state));
        double error = Compare.RelativeError(stack(rows, 1), full);
        Assert.True(error < 1e-10, $"{config.MixerName}: relative error {error:E2}");
        long predicted = config.Mixers.Resolve(config.Layers).Sum(s => s.StateBytes(config.MixerDimensions, 2, 11, float64));
        Assert.Equal(predicted, state.Bytes);
    }

    [Fact]
    public void MixedStackDecodesLikeItsForwardAndGenerates()
    {
        var pattern = new LayerPattern(new SoftmaxAttentionSpec { Position = AttentionPosition.RoPE })
            .Every(2, 1, new PathSpec { ChunkSize = 4, LowRank = 4, ForgetGate = true })
            .At(new FoxSpec { KvShift = true }, 2)
            .At(new SoftmaxAttentionSpec { Position = AttentionPosition.ALiBi, Window = 3 }, 4);
        var config = new ModelConfig { VocabSize = 17, DModel = 12, Heads = 3, Layers = 5, Mixers = pattern, InitStd = 0.3 };
        Assert.Equal("RoPE / PaTH-FoX / FoX-Pro / PaTH-FoX / ALiBi-window3", config.MixerName);
        manual_seed(6);
        var model = new CausalLM(config);
        model.to(float64);
        model.eval();
        Assert.Equal(new[] { typeof(SoftmaxAttention), typeof(PathAttention), typeof(ForgettingAttention), typeof(PathAttention), typeof(SoftmaxAttention) },
            model.Mixers.Select(m => m.GetType()));

        var tokens = randint(0, 17, new long[] { 3, 9 }, generator: new Generator(7));
        var full = model.forward(tokens);                                       // [B, T, V]
        using var state = model.NewDecodeState(3);
        var rows = new List<Tensor>();
        for (int t = 0; t < 9; t++) rows.Add(model.Step(tokens[.., t], state));
        Assert.True(Compare.RelativeError(stack(rows, 1), full) < 1e-10);
        Assert.Equal(9, state.Position);
        Assert.Equal(state.Layers.Sum(l => l.Bytes), state.Bytes);

        // greedy generation: every generated token is the argmax of the full forward over what came before it
        var generated = model.Generate(tokens[.., ..4], newTokens: 6);
        Assert.Equal(new long[] { 3, 10 }, generated.shape);
        Assert.True(generated[.., ..4].eq(tokens[.., ..4]).all().item<bool>());
        var logits = model.forward(generated);
        Assert.True(logits[.., 3..^1].argmax(-1).eq(generated[.., 4..]).all().item<bool>());
        // sampling is reproducible with a seeded generator
        var a = model.Generate(tokens[.., ..2], 5, temperature: 1.0, generator: new Generator(8));
        var b = model.Generate(tokens[.., ..2], 5, temperature: 1.0, generator: new Generator(8));
        Assert.True(a.eq(b).all().item<bool>());
    }

    [Fact]
    public void BadStatesAndInputsAreNamed()
    {
        var rope = Mixer(new SoftmaxAttentionSpec(), seed: 9);
        var path = Mixer(new PathSpec { ChunkSize = 4 }, seed: 9);
        using var pathState = path.NewState(2);
        var e = Assert.Throws<ArgumentException>(() => rope.Step(randn(2, 12, dtype: float64), pathState));
        Assert.Equal("state", e.ParamName);
        Assert.Contains("KvCache", e.Message);
        using var ropeState = rope.NewState(2);
        e = Assert.Throws<ArgumentException>(() => rope.Step(randn(3, 12, dtype: float64), ropeState));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("[B, DModel]", e.Message);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => rope.NewState(0)).ParamName);
        Assert.Equal("Window", Assert.Throws<ArgumentOutOfRangeException>(() => new SoftmaxAttentionSpec { Window = 0 }).ParamName);
        Assert.Equal("Heads", Assert.Throws<ArgumentException>(() => new SoftmaxAttentionSpec().Check(new MixerDimensions(9, 3))).ParamName);
        var config = new ModelConfig { VocabSize = 5, DModel = 9, Heads = 3, Mixers = new LayerPattern(new PathSpec()).At(new SoftmaxAttentionSpec(), 1) };
        Assert.Equal("Heads", Assert.Throws<ArgumentException>(() => new CausalLM(config)).ParamName);   // layer 1's RoPE, odd head dim
    }
}
