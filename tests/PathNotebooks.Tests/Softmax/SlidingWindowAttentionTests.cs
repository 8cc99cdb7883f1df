using PathNotebooks.Mixers;
using PathNotebooks.Positional;
using PathNotebooks.Softmax;

namespace PathNotebooks.Tests.Softmax;

/// <summary>Both forms of sliding-window attention against the explicit band-masked softmax in float64, small windows included.</summary>
[Collection("torch")]
public class SlidingWindowAttentionTests
{
    /// <summary>softmax(QKᵀ/√D − slopeₕ·(i − j), −∞ outside i − W &lt; j ≤ i)·V, written out.</summary>
    static Tensor Explicit(Tensor q, Tensor k, Tensor v, int window, Tensor? slopes = null)
    {
        long t = q.shape[2];
        var logits = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(q.shape[3]);
        var i = arange(t).unsqueeze(1);
        var j = arange(t).unsqueeze(0);
        if (slopes is not null) logits = logits - slopes.to(float64).view(-1, 1, 1) * (i - j).to(float64);
        return logits.masked_fill(j.gt(i).logical_or(j.le(i - window)), double.NegativeInfinity).softmax(-1).matmul(v);
    }

    static (Tensor Q, Tensor K, Tensor V) Inputs(int t, int seed, long heads = 3, long dv = 5)
    {
        var g = new Generator((ulong)seed);
        Tensor Leaf(params long[] shape) => randn(shape, dtype: float64, generator: g).requires_grad_(true);
        return (Leaf(2, heads, t, 4), Leaf(2, heads, t, 4), Leaf(2, heads, t, dv));
    }

    static Tensor[] ValueAndGradients(Func<Tensor, Tensor, Tensor, Tensor> f, (Tensor Q, Tensor K, Tensor V) x)
    {
        var (q, k, v) = (x.Q.detach().clone().requires_grad_(true), x.K.detach().clone().requires_grad_(true), x.V.detach().clone().requires_grad_(true));
        var o = f(q, k, v);
        (o * cos(arange(o.numel(), dtype: float64).view(o.shape))).sum().backward();
        return new[] { o.detach(), q.grad!, k.grad!, v.grad! };
    }

    static void AssertClose(Tensor[] expected, Tensor[] actual, string what)
    {
        string[] names = { "output", "dq", "dk", "dv" };
        for (int n = 0; n < expected.Length; n++)
        {
            double error = Compare.RelativeError(actual[n], expected[n]);
            Assert.True(error < 1e-10, $"{what}: {names[n]} relative error {error:E2}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    public void BothFormsMatchTheExplicitSoftmax(int window)
    {
        foreach (int t in new[] { 1, 7, 37, 131 })
        {
            var x = Inputs(t, seed: t + window);
            var expected = ValueAndGradients((q, k, v) => Explicit(q, k, v, window), x);
            AssertClose(expected, ValueAndGradients((q, k, v) => SlidingWindowAttention.Dense(q, k, v, window), x), $"dense W={window} T={t}");
            foreach (int? c in new int?[] { null, 1, 3, 16, 200 })
                AssertClose(expected, ValueAndGradients((q, k, v) => SlidingWindowAttention.Blockwise(q, k, v, window, c), x),
                    $"blockwise W={window} C={c} T={t}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void AlibiPenaltyWorksInBothForms(int window)
    {
        var slopes = Alibi.Slopes(3);
        var x = Inputs(29, seed: 3);
        var expected = ValueAndGradients((q, k, v) => Explicit(q, k, v, window, slopes), x);
        AssertClose(expected, ValueAndGradients((q, k, v) => SlidingWindowAttention.Dense(q, k, v, window, slopes), x), "dense ALiBi");
        AssertClose(expected, ValueAndGradients((q, k, v) => SlidingWindowAttention.Blockwise(q, k, v, window, 4, slopes), x), "blockwise ALiBi");
    }

    static Tensor Layer(SoftmaxAttentionSpec spec, Tensor x)
    {
        manual_seed(11);
        var mixer = spec.Create(new MixerDimensions(8, 2));
        mixer.InitializeWeights(0.4);
        mixer.to(x.dtype);
        return mixer.forward(x);
    }

    [Theory]
    [InlineData(AttentionPosition.RoPE)]
    [InlineData(AttentionPosition.ALiBi)]
    [InlineData(AttentionPosition.NoPE)]
    public void LayerKernelsAgreeAndAutoKeepsTheDensePathUpTo1024(AttentionPosition position)
    {
        var spec = new SoftmaxAttentionSpec { Position = position, Window = 6 };
        var shortX = randn(new long[] { 1, 40, 8 }, dtype: float32, generator: new Generator(1));
        // Auto at T ≤ 1024 is the dense path, bit for bit.
        Assert.True(Layer(spec, shortX).eq(Layer(spec with { WindowKernel = WindowKernel.Dense }, shortX)).all().item<bool>());
        var x = randn(new long[] { 1, 1030, 8 }, dtype: float64, generator: new Generator(2));
        var dense = Layer(spec with { WindowKernel = WindowKernel.Dense }, x);
        Assert.True(Compare.RelativeError(Layer(spec, x), dense) < 1e-10);                       // Auto: blockwise here
        Assert.True(Compare.RelativeError(Layer(spec with { WindowKernel = WindowKernel.Blockwise }, x[.., ..50]), dense[.., ..50]) < 1e-10);
        Assert.True(SlidingWindowAttention.UsesBlockwise(WindowKernel.Auto, 1025, 512));
        Assert.False(SlidingWindowAttention.UsesBlockwise(WindowKernel.Auto, 1024, 512));
        Assert.False(SlidingWindowAttention.UsesBlockwise(WindowKernel.Auto, 2000, 4096));
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var (q, k, v) = Inputs(5, seed: 1);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => SlidingWindowAttention.Blockwise(q, k, v, 0)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => SlidingWindowAttention.Dense(q, k, v, -1)).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentOutOfRangeException>(() => SlidingWindowAttention.Blockwise(q, k, v, 2, 0)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => SlidingWindowAttention.Blockwise(q, k[.., .., ..4], v, 2));
        Assert.Equal("k", e.ParamName);
        Assert.Contains("[B, H, T, D]", e.Message);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => SlidingWindowAttention.Dense(q[0], k, v, 2)).ParamName);
        Assert.Equal("alibiSlopes", Assert.Throws<ArgumentException>(() => SlidingWindowAttention.Dense(q, k, v, 2, Alibi.Slopes(2))).ParamName);
    }
}
