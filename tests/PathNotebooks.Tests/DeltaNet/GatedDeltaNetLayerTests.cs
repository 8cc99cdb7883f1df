using PathNotebooks.DeltaNet;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.DeltaNet;

/// <summary>The Gated DeltaNet layer: gates, initialisation, the rule it feeds, errors, and a tiny model that trains.</summary>
[Collection("torch")]
public class GatedDeltaNetLayerTests
{
    static readonly MixerDimensions Dimensions = new(DModel: 12, Heads: 3);

    static GatedDeltaNet Layer(GatedDeltaNetSpec spec, int seed = 1)
    {
        manual_seed(seed);
        var layer = (GatedDeltaNet)spec.Create(Dimensions);
        layer.InitializeWeights(0.3);
        layer.to(float64);
        return layer;
    }

    [Fact]
    public void GatesAreInRangeAndOffWithoutTheGate()
    {
        var x = randn(2, 7, 12, dtype: float64);
        var (g, beta) = Layer(new GatedDeltaNetSpec()).Gates(x);
        Assert.Equal(new long[] { 2, 3, 7 }, g.shape);
        Assert.Equal(new long[] { 2, 3, 7 }, beta.shape);
        Assert.True((g < 0).all().item<bool>());
        Assert.True((beta > 0).all().item<bool>() && (beta < 1).all().item<bool>());
        var (g0, _) = Layer(new GatedDeltaNetSpec { Gate = false }).Gates(x);
        Assert.Equal(0.0, g0.abs().max().item<double>());
        Assert.Equal("DeltaNet", new GatedDeltaNetSpec { Gate = false }.Name);
        Assert.Equal("GDN", new GatedDeltaNetSpec().Name);
    }

    [Fact]
    public void DecayParametersFollowThePaperAndTheSeed()
    {
        var spec = new GatedDeltaNetSpec();
        var big = new MixerDimensions(DModel: 256, Heads: 64);
        Tensor Parameter(int seed, string name)
        {
            manual_seed(seed);
            var layer = spec.Create(big);
            layer.InitializeWeights(0.02);
            return layer.named_parameters().Single(p => p.name == name).parameter.detach().clone();
        }
        var a = Parameter(3, "aLog").exp();
        var dt = nn.functional.softplus(Parameter(3, "dtBias"));
        Assert.True((a > 0).all().item<bool>() && (a <= 16).all().item<bool>());
        Assert.True((dt >= 1e-3 * 0.999).all().item<bool>() && (dt <= 0.1 * 1.001).all().item<bool>());
        Assert.True(a.max().item<float>() > 8 && a.min().item<float>() < 8);     // spread over the range
        Assert.Equal(0.0, Compare.RelativeError(Parameter(3, "aLog"), Parameter(3, "aLog")));
        Assert.True(Compare.RelativeError(Parameter(3, "dtBias"), Parameter(4, "dtBias")) > 1e-3);
    }

    /// <summary>The forward is the chunked rule on <see cref="GatedDeltaNet.RuleInputs"/>; those are unit q and k, and
    /// <see cref="GatedDeltaRule.States"/> on them gives the memory whose last entry is the final state.</summary>
    [Fact]
    public void RuleInputsFeedTheRule()
    {
        var layer = Layer(new GatedDeltaNetSpec { ValueExpansion = 2 });
        var x = randn(2, 9, 12, dtype: float64);
        var (q, k, v, g, beta) = layer.RuleInputs(x);
        Assert.Equal(new long[] { 2, 3, 9, 4 }, q.shape);
        Assert.Equal(new long[] { 2, 3, 9, 8 }, v.shape);
        Assert.True(Compare.RelativeError(k.norm(dim: -1), ones(2, 3, 9)) < 1e-12);
        var states = GatedDeltaRule.States(q, k, v, g, beta);
        Assert.Equal(new long[] { 2, 3, 9, 4, 8 }, states.shape);
        var (_, final) = GatedDeltaRule.Chunked(q, k, v, g, beta, chunkSize: 4);
        Assert.True(Compare.RelativeError(states[.., .., -1], final) < 1e-12);
        Assert.Equal(new long[] { 2, 9, 12 }, layer.forward(x).shape);
    }

    [Fact]
    public void ForwardIsCausal()
    {
        var layer = Layer(new GatedDeltaNetSpec { ChunkSize = 4 });
        var x = randn(1, 10, 12, dtype: float64);
        var y = layer.forward(x);
        var edited = x.clone();
        edited[0, 6] = randn(12, dtype: float64);
        Assert.True(Compare.RelativeError(layer.forward(edited)[0, ..6], y[0, ..6]) < 1e-13);
    }

    [Fact]
    public void BadSpecsAndInputsAreNamed()
    {
        Assert.Equal("ChunkSize", Assert.Throws<ArgumentOutOfRangeException>(() => new GatedDeltaNetSpec { ChunkSize = 0 }).ParamName);
        Assert.Equal("ConvKernel", Assert.Throws<ArgumentOutOfRangeException>(() => new GatedDeltaNetSpec { ConvKernel = 0 }).ParamName);
        Assert.Equal("ValueExpansion", Assert.Throws<ArgumentOutOfRangeException>(() => new GatedDeltaNetSpec { ValueExpansion = 0 }).ParamName);
        Assert.Equal("HeadDim", Assert.Throws<ArgumentOutOfRangeException>(() => new GatedDeltaNetSpec { HeadDim = 0 }).ParamName);
        // without HeadDim the key width is DModel / Heads, which must divide
        Assert.Equal("DModel", Assert.Throws<ArgumentException>(() => new GatedDeltaNetSpec().Create(new MixerDimensions(10, 3))).ParamName);
        var layer = Layer(new GatedDeltaNetSpec());
        var e = Assert.Throws<ArgumentException>(() => layer.forward(randn(2, 5, 11, dtype: float64)));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("[B, T, DModel]", e.Message);
        using var state = layer.NewState(2);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => layer.Step(randn(3, 12, dtype: float64), state)).ParamName);
    }

    [Fact]
    public void StateBytesCountMemoryAndHistories()
    {
        var spec = new GatedDeltaNetSpec { ValueExpansion = 2 };
        // float32 memory for a bfloat16 model: 3 heads × 4 × 8 × 4 bytes, histories 3 × 48 channels × 2 bytes
        Assert.Equal(2 * (3 * 4 * 8 * 4 + 3 * 48 * 2), spec.StateBytes(Dimensions, 2, 100, ScalarType.BFloat16));
        Assert.Equal(spec.StateBytes(Dimensions, 2, 1, float32), spec.StateBytes(Dimensions, 2, 10_000, float32));
        Assert.Equal(2 * 3 * 4 * 8 * 8, new GatedDeltaNetSpec { ValueExpansion = 2, ConvKernel = 1 }.StateBytes(Dimensions, 2, 5, float64));
    }

    [Fact]
    public void TinyModelTrainsAndGenerates()
    {
        PathNotebooks.Runtime.TorchRuntime.Seed(7);
        var config = new ModelConfig { VocabSize = 11, DModel = 16, Heads = 2, Layers = 2, Mixers = new LayerPattern(new GatedDeltaNetSpec { ChunkSize = 8 }) };
        var model = new CausalLM(config);
        var gen = new Generator(7);
        var points = Trainer.Train(model, _ =>
        {
            var x = randint(0, 11, new long[] { 8, 16 }, generator: gen);
            return new Batch(x, x.roll(1, 1), null);                              // predict the previous token
        }, new TrainOptions { Steps = 30, LearningRate = 1e-2, LogEvery = 10 });
        Assert.All(points, p => Assert.True(double.IsFinite(p.Loss)));
        Assert.True(points[^1].Loss < points[0].Loss, $"loss {points[0].Loss} → {points[^1].Loss}");
        model.eval();
        var prompt = randint(0, 11, new long[] { 2, 5 }, generator: gen);
        var generated = model.Generate(prompt, newTokens: 4);
        Assert.Equal(new long[] { 2, 9 }, generated.shape);
        var logits = model.forward(generated);
        Assert.True(logits[.., 4..^1].argmax(-1).eq(generated[.., 5..]).all().item<bool>());
    }
}
