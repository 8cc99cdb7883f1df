using PathNotebooks.Forgetting;
using PathNotebooks.Mixers;
using PathNotebooks.Models;

namespace PathNotebooks.Tests.Forgetting;

[Collection("torch")]
public class ForgettingLayerTests
{
    static FoxSpec Spec(bool outputGate = false, bool qkNorm = false, bool kvShift = false) =>
        new() { OutputGate = outputGate, QkNorm = qkNorm, KvShift = kvShift };

    static ModelConfig Config(bool outputGate = false, bool qkNorm = false, bool kvShift = false) => new()
    {
        VocabSize = 11, DModel = 16, Heads = 2, Layers = 2, Mixers = Spec(outputGate, qkNorm, kvShift),
    };

    static readonly MixerDimensions Dimensions = new(16, 2);

    static ForgettingAttention Layer(ModelConfig config, int seed = 0)
    {
        manual_seed(seed);
        var layer = new ForgettingAttention((FoxSpec)config.Mixers.Default, Dimensions);
        layer.to(float64);
        return layer;
    }

    public static IEnumerable<object[]> Switches() =>
        from o in new[] { false, true } from q in new[] { false, true } from s in new[] { false, true } select new object[] { o, q, s };

    [Theory]
    [MemberData(nameof(Switches))]
    public void ProSwitchesGiveRightShapesAndAreCausal(bool outputGate, bool qkNorm, bool kvShift)
    {
        var layer = Layer(Config(outputGate, qkNorm, kvShift), seed: 1);
        manual_seed(2);
        var x = randn(2, 9, 16, dtype: float64);
        var y = layer.forward(x);
        Assert.Equal(new long[] { 2, 9, 16 }, y.shape);
        Assert.Equal(new long[] { 2, 2, 9 }, layer.LastLogForget!.shape);
        Assert.True(layer.LastLogForget.le(0).all().item<bool>());
        Assert.Equal(kvShift, layer.LastShiftGate is not null);

        var changed = x.clone();
        changed[.., 5] = randn(2, 16, dtype: float64);                              // change token 5 only
        var y2 = layer.forward(changed);
        Assert.True(Compare.RelativeError(y2[.., ..5], y[.., ..5]) < 1e-14);
        Assert.True(Compare.RelativeError(y2[.., 5..], y[.., 5..]) > 1e-6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CapturedProbabilitiesMatchTheFastPath(bool pro)
    {
        var layer = Layer(Config(pro, pro, pro), seed: 3);
        manual_seed(4);
        var x = randn(2, 8, 16, dtype: float64);
        var fast = layer.forward(x);
        layer.CaptureAttention = true;
        var slow = layer.forward(x);
        Assert.True(Compare.RelativeError(slow, fast) < 1e-12);
        var p = layer.LastAttention!;
        Assert.Equal(new long[] { 2, 2, 8, 8 }, p.shape);
        Assert.True((p.sum(-1) - 1).abs().max().item<double>() < 1e-12);
        Assert.Equal(0.0, p.triu(1).abs().sum().item<double>());
    }

    [Fact]
    public void KvShiftWithZeroAlphaIsNoShift()
    {
        var plain = Layer(Config(kvShift: false), seed: 5);
        var shifted = Layer(Config(kvShift: true), seed: 5);                          // same q/k/v/o/gate weights (created first)
        using (no_grad())
        {
            shifted.ShiftGate!.weight!.zero_();
            shifted.ShiftGate.bias!.fill_(-1000.0);                                    // α = σ(−1000) = 0 in float64
        }
        manual_seed(6);
        var x = randn(1, 7, 16, dtype: float64);
        Assert.True(Compare.RelativeError(shifted.forward(x), plain.forward(x)) < 1e-14);
        Assert.True(shifted.LastShiftGate!.abs().max().item<double>() < 1e-300);

        using (no_grad()) shifted.ShiftGate.bias!.fill_(0.0);                          // α = ½: now it differs
        Assert.True(Compare.RelativeError(shifted.forward(x), plain.forward(x)) > 1e-6);
    }

    [Fact]
    public void KvShiftMixesWithThePreviousToken()
    {
        manual_seed(7);
        var x = randn(1, 2, 5, 3, dtype: float64);
        Assert.True(Compare.RelativeError(ForgettingAttention.KvShift(x, zeros(1, 2, 5, dtype: float64)), x) < 1e-15);
        var delayed = ForgettingAttention.KvShift(x, ones(1, 2, 5, dtype: float64));
        Assert.Equal(0.0, delayed[.., .., 0].abs().sum().item<double>());
        Assert.True(Compare.RelativeError(delayed[.., .., 1..], x[.., .., ..4]) < 1e-15);
        var half = ForgettingAttention.KvShift(x, full(1, 2, 5, 0.5, dtype: float64));
        Assert.True(Compare.RelativeError(half[.., .., 3], (x[.., .., 2] + x[.., .., 3]) / 2) < 1e-15);
        var e = Assert.Throws<ArgumentException>(() => ForgettingAttention.KvShift(x, zeros(1, 2, 4)));
        Assert.Equal("alpha", e.ParamName);
    }

    [Fact]
    public void HeadRmsNormGivesUnitRms()
    {
        manual_seed(8);
        var x = 5 * randn(2, 3, 4, 8, dtype: float64);
        var y = ForgettingAttention.HeadRmsNorm(x, ones(3, 8, dtype: float64), eps: 0);
        Assert.True((y.pow(2).mean(new long[] { -1 }) - 1).abs().max().item<double>() < 1e-12);
        var e = Assert.Throws<ArgumentException>(() => ForgettingAttention.HeadRmsNorm(x, ones(2, 8)));
        Assert.Equal("scale", e.ParamName); Assert.Contains("[H, D]", e.Message);
    }

    [Fact]
    public void FactoryBuildsFoxModelsThatTrainAStep()
    {
        foreach (var pro in new[] { false, true })
        {
            manual_seed(9);
            var model = new CausalLM(Config(pro, pro, pro));
            Assert.All(model.Blocks, b => Assert.IsType<ForgettingAttention>(b.Mixer));
            var tokens = randint(0, 11, new long[] { 2, 12 });
            var logits = model.forward(tokens);
            Assert.Equal(new long[] { 2, 12, 11 }, logits.shape);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, 11), tokens.reshape(-1));
            loss.backward();
            var gate = model.named_parameters().First(p => p.name.Contains("forgetGate.weight")).parameter;
            Assert.True(gate.grad is not null && gate.grad.abs().sum().item<float>() > 0);
        }
    }

    [Fact]
    public void BadInputsNameTheArgument()
    {
        var layer = Layer(Config(), seed: 10);
        var e = Assert.Throws<ArgumentException>(() => layer.forward(zeros(2, 5, 15, dtype: float64)));
        Assert.Equal("x", e.ParamName); Assert.Contains("[B, T, DModel]", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ForgettingAttention(Spec(), new MixerDimensions(15, 2)));
        Assert.Equal("DModel", e.ParamName);
        var k = Assert.Throws<ArgumentOutOfRangeException>(() => Spec() with { Kernel = FoxKernelOptions.Default with { ChunkSize = 0 } });
        Assert.Equal("Kernel", k.ParamName);
    }
}
