using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.PaTH;

namespace PathNotebooks.Tests.PaTH;

[Collection("torch")]
public class PathLayerTests
{
    static PathSpec Spec(PositionEncoding e) => new() { ForgetGate = e == PositionEncoding.PaTHFoX, ChunkSize = 4, LowRank = 8 };
    static ModelConfig Config(PositionEncoding e) => new() { VocabSize = 11, DModel = 16, Heads = 2, Layers = 2, Mixers = Spec(e) };
    static PathAttention Layer(PositionEncoding e) => new(Spec(e), new MixerDimensions(16, 2));

    [Theory]
    [InlineData(PositionEncoding.PaTH)]
    [InlineData(PositionEncoding.PaTHFoX)]
    public void ModelBuildsFastEqualsCaptureAndIsCausal(PositionEncoding encoding)
    {
        torch.manual_seed(4);
        var model = new CausalLM(Config(encoding));
        model.eval();
        var layer = Assert.IsType<PathAttention>(model.Blocks[0].Mixer);
        Assert.Equal(encoding == PositionEncoding.PaTHFoX, layer.UsesForgetGate);
        var tokens = randint(0, 11, new long[] { 2, 13 });
        var fast = model.forward(tokens);
        model.CaptureAttention(true);
        var slow = model.forward(tokens);
        model.CaptureAttention(false);
        Assert.Equal(new long[] { 2, 13, 11 }, fast.shape);
        Assert.True(Compare.RelativeError(fast, slow) < 1e-5);
        var p = layer.LastAttention!;
        Assert.Equal(new long[] { 2, 2, 13, 13 }, p.shape);
        Assert.True(p.triu(1).abs().max().item<float>() == 0f);
        Assert.True(Compare.RelativeError(p.sum(-1), ones(2, 2, 13)) < 1e-5);
        var edited = tokens.clone(); edited[0, 12] = (edited[0, 12] + 1) % 11;
        Assert.True(Compare.RelativeError(model.forward(edited)[0, ..12], fast[0, ..12]) < 1e-6);
        // chunk size does not matter
        foreach (var b in model.Blocks) ((PathAttention)b.Mixer).ChunkSize = 5;
        Assert.True(Compare.RelativeError(model.forward(tokens), fast) < 1e-5);
    }

    [Fact]
    public void TransformsAreUnitVectorsAndBetaInRangeAndCausal()
    {
        torch.manual_seed(1);
        var layer = Layer(PositionEncoding.PaTHFoX);
        var x = randn(2, 9, 16);
        var (w, beta, logf) = layer.Transforms(x);
        Assert.Equal(new long[] { 2, 2, 9, 8 }, w.shape);
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.True(Compare.RelativeError(w.norm(-1), ones(2, 2, 9)) < 1e-5);
        Assert.True(beta.gt(0).all().item<bool>() && beta.lt(2).all().item<bool>());
        Assert.True(logf!.le(0).all().item<bool>());
        // the short convolution is causal: changing token 6 leaves w of tokens < 6 unchanged
        var x2 = x.clone(); x2[.., 6] = randn(2, 16);
        var (w2, _, _) = layer.Transforms(x2);
        Assert.True(Compare.RelativeError(w2[.., .., ..6], w[.., .., ..6]) == 0);
        Assert.True(Compare.RelativeError(w2[.., .., 6..9], w[.., .., 6..9]) > 1e-3);
        Assert.True(Compare.RelativeError(w2[.., .., 9..], w[.., .., 9..]) == 0 || w.shape[2] == 9);
    }

    [Fact]
    public void LayerGradientsReachEveryParameter()
    {
        torch.manual_seed(2);
        var layer = Layer(PositionEncoding.PaTHFoX);
        layer.forward(randn(2, 7, 16)).square().sum().backward();
        foreach (var (name, p) in layer.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
    }

    [Fact]
    public void BFloat16LayerRunsItsTransformsInFloat32()
    {
        torch.manual_seed(3);
        var layer = Layer(PositionEncoding.PaTHFoX);
        var x = randn(2, 11, 16);
        var reference = layer.forward(x);
        layer.to(ScalarType.BFloat16);
        var (w, beta, logf) = layer.Transforms(x.to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.Equal(ScalarType.Float32, beta.dtype);
        Assert.Equal(ScalarType.Float32, logf!.dtype);
        var half = layer.forward(x.to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, half.dtype);
        Assert.True(Compare.RelativeError(half, reference) < 5e-2, $"{Compare.RelativeError(half, reference)}");
    }

    [Fact]
    public void WrongConfigOrInputIsRejected()
    {
        Assert.Equal("ChunkSize", Assert.Throws<ArgumentOutOfRangeException>(() => Spec(PositionEncoding.PaTH) with { ChunkSize = 0 }).ParamName);
        Assert.Equal("LowRank", Assert.Throws<ArgumentOutOfRangeException>(() => new PathSpec { LowRank = 0 }).ParamName);
        Assert.Equal("DModel", Assert.Throws<ArgumentException>(() => new PathAttention(new PathSpec(), new MixerDimensions(16, 3))).ParamName);
        var layer = Layer(PositionEncoding.PaTH);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => layer.forward(randn(7, 16))).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => layer.forward(randn(1, 7, 15))).ParamName);
    }
}
