using PathNotebooks.Softmax;
using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.Models;

[Collection("torch")]
public class CausalLMTests
{
    static ModelConfig Config(PositionEncoding e) => new() { VocabSize = 11, DModel = 16, Heads = 2, Layers = 2, Mixers = PositionEncodings.Spec(e) };

    [Theory]
    [InlineData(PositionEncoding.NoPE)]
    [InlineData(PositionEncoding.RoPE)]
    [InlineData(PositionEncoding.ALiBi)]
    public void FastPathEqualsExplicitPathAndIsCausal(PositionEncoding encoding)
    {
        torch.manual_seed(4);
        var model = new CausalLM(Config(encoding) with
            { Mixers = ((SoftmaxAttentionSpec)PositionEncodings.Spec(encoding)) with { Window = encoding == PositionEncoding.NoPE ? 3 : null } });
        model.eval();
        var tokens = randint(0, 11, new long[] { 2, 9 });
        var fast = model.forward(tokens);
        model.CaptureAttention(true);
        var slow = model.forward(tokens);
        Assert.Equal(new long[] { 2, 9, 11 }, fast.shape);
        Assert.True(Compare.RelativeError(fast, slow) < 1e-5);
        var p = model.Blocks[0].Mixer.LastAttention!;
        Assert.Equal(new long[] { 2, 2, 9, 9 }, p.shape);
        Assert.True(p.triu(1).abs().max().item<float>() == 0f);                  // no look-ahead
        // Changing a later token leaves earlier outputs unchanged.
        var edited = tokens.clone(); edited[0, 8] = (edited[0, 8] + 1) % 11;
        model.CaptureAttention(false);
        Assert.True(Compare.RelativeError(model.forward(edited)[0, ..8], fast[0, ..8]) < 1e-6);
    }

    [Fact]
    public void HookSeesEveryLayerAndCanEdit()
    {
        var model = new CausalLM(Config(PositionEncoding.NoPE));
        var tokens = randint(0, 11, new long[] { 1, 5 });
        var seen = new List<int>();
        var plain = model.forward(tokens);
        var observed = model.Forward(tokens, (l, h) => { seen.Add(l); Assert.Equal(new long[] { 1, 5, 16 }, h.shape); return h; });
        Assert.Equal(new[] { 0, 1, 2 }, seen);
        Assert.True(Compare.RelativeError(observed, plain) < 1e-7);
        var edited = model.Forward(tokens, (l, h) => l == 1 ? h * 0 : h);
        Assert.True(Compare.RelativeError(edited, plain) > 1e-3);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var model = new CausalLM(Config(PositionEncoding.RoPE));
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => model.forward(randint(0, 11, new long[] { 5 }))).ParamName);
        Assert.Contains("int64", Assert.Throws<ArgumentException>(() => model.forward(randn(1, 5))).Message);
        Assert.Throws<ArgumentException>(() => new CausalLM(Config(PositionEncoding.RoPE) with { DModel = 15 }));
    }

    [Fact]
    public void TrainingReducesLossOnACopyTaskAndIsReproducible()
    {
        List<TrainPoint> Run()
        {
            PathNotebooks.Runtime.TorchRuntime.Seed(7);
            var model = new CausalLM(Config(PositionEncoding.RoPE));
            var gen = new Generator(7);
            return Trainer.Train(model, _ =>
            {
                var x = randint(0, 11, new long[] { 8, 12 }, generator: gen);
                return new Batch(x, x.roll(1, 1), null);                          // predict the previous token
            }, new TrainOptions { Steps = 200, LearningRate = 1e-2, LogEvery = 50 });
        }
        var a = Run(); var b = Run();
        Assert.True(a[^1].Loss < 0.5 * a[0].Loss, $"loss {a[0].Loss} → {a[^1].Loss}");
        Assert.Equal(a.Select(p => p.Loss), b.Select(p => p.Loss));
    }
}
