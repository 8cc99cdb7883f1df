using PathNotebooks.DeltaNet;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Softmax;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.Training;

[Collection("torch")]
public class FlatAdamWTests
{
    /// <summary>A GDN+attention model, so the buffer holds matrices, convolution kernels, vectors and scalars-per-head.</summary>
    static ModelConfig Config => new()
    {
        VocabSize = 13, DModel = 32, Heads = 2, Layers = 2,
        Mixers = new LayerPattern(new GatedDeltaNetSpec { ChunkSize = 8 }).Every(2, 1, new SoftmaxAttentionSpec()),
    };

    static Batch NextBatch(Generator g)
    {
        using var tokens = randint(0, 13, new long[] { 3, 17 }, generator: g);
        return Batch.NextToken(tokens, null);
    }

    static (List<TrainPoint> Curve, Tensor Weights) Train(bool flat, double clip)
    {
        using var model = CausalLM.Seeded(Config, 5, CPU);
        var g = new Generator(77);
        var curve = Trainer.Train(model, _ => NextBatch(g),
            new TrainOptions { Steps = 12, LearningRate = 3e-3, ClipNorm = clip, LogEvery = 4, FlatOptimizer = flat });
        var weights = cat(model.parameters().Select(p => p.detach().flatten()).ToArray());
        return (curve, weights);
    }

    [Theory]
    [InlineData(0.0)]        // no clipping: the same elementwise arithmetic, so the same numbers
    [InlineData(0.05)]       // clipping on every step: the norm is reduced in another order, so equal to rounding
    public void TrainsLikeThePerParameterOptimiser(double clip)
    {
        var (perParameterCurve, perParameterWeights) = Train(flat: false, clip);
        var (flatCurve, flatWeights) = Train(flat: true, clip);
        using var initial = CausalLM.Seeded(Config, 5, CPU);
        double moved = Compare.RelativeError(cat(initial.parameters().Select(p => p.detach().flatten()).ToArray()), perParameterWeights);
        Assert.True(moved > 1e-3, $"training must move the weights (moved {moved:E2})");
        double error = Compare.RelativeError(flatWeights, perParameterWeights);
        Assert.True(error < (clip == 0 ? 1e-6 : 1e-5), $"weights differ by {error:E2}");
        Assert.Equal(perParameterCurve.Select(p => p.Step), flatCurve.Select(p => p.Step));
        foreach (var (a, b) in perParameterCurve.Zip(flatCurve)) Assert.Equal(a.Loss, b.Loss, 5);
    }

    [Fact]
    public void ParametersBecomeViewsOfOneBufferAndKeepTheirValues()
    {
        using var model = CausalLM.Seeded(Config, 5, CPU);
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        using var optimiser = new FlatAdamW(model.parameters(), weightDecay: 0.1);
        Assert.Equal(model.ParameterCount, optimiser.Count);
        foreach (var (p, b) in model.parameters().Zip(before)) Assert.True(Compare.RelativeError(p.detach(), b) == 0, "values are copied into the buffer");
        // Backward writes into the flat gradient; ZeroGrad clears every parameter's gradient at once.
        var g = new Generator(3);
        using var batch = NextBatch(g);
        Trainer.MaskedCrossEntropy(model.forward(batch.Inputs), batch.Targets, null).backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
        Assert.True(model.parameters().Sum(p => p.grad!.abs().sum().item<float>()) > 0);
        optimiser.ZeroGrad();
        Assert.All(model.parameters(), p => Assert.Equal(0f, p.grad!.abs().sum().item<float>()));
    }

    [Fact]
    public void ClipsWithoutReadingTheNormBack()
    {
        var weight = new TorchSharp.Modules.Parameter(zeros(3, 4));
        var bias = new TorchSharp.Modules.Parameter(zeros(5));
        using var optimiser = new FlatAdamW(new[] { weight, bias });
        using (no_grad()) { weight.grad!.fill_(1); bias.grad!.fill_(2); }    // norm √(12 + 20) = √32
        var norm = optimiser.ClipGradNorm(1.0);
        Assert.Equal(Math.Sqrt(32), norm.item<float>(), 4);
        double after = Math.Sqrt(weight.grad!.square().sum().item<float>() + bias.grad!.square().sum().item<float>());
        Assert.Equal(1.0, after, 4);
        optimiser.ClipGradNorm(10.0);                                              // below the limit: unchanged
        Assert.Equal(1.0, Math.Sqrt(weight.grad!.square().sum().item<float>() + bias.grad!.square().sum().item<float>()), 4);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var p = new TorchSharp.Modules.Parameter(zeros(2));
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new FlatAdamW(new[] { p }, beta1: 1)).ParamName);
        Assert.Equal("weightDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new FlatAdamW(new[] { p }, weightDecay: -1)).ParamName);
        var mixed = new TorchSharp.Modules.Parameter(zeros(2, dtype: ScalarType.Float64));
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new FlatAdamW(new[] { p, mixed })).ParamName);
        var frozen = new TorchSharp.Modules.Parameter(zeros(2), requires_grad: false);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new FlatAdamW(new[] { frozen })).ParamName);
        using var optimiser = new FlatAdamW(new[] { p });
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => optimiser.ClipGradNorm(0)).ParamName);
    }
}
