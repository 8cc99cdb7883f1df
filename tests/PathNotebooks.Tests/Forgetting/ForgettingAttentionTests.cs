using PathNotebooks.Forgetting;
using PathNotebooks.Positional;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.Forgetting;

[Collection("torch")]
public class ForgettingAttentionTests
{
    delegate Tensor Kernel(Tensor q, Tensor k, Tensor v, Tensor logForget);

    /// <summary>q, k, v <c>[B, H, T, D]</c> and log f = logsigmoid(N(μ, 1)) <c>[B, H, T]</c>.</summary>
    static (Tensor q, Tensor k, Tensor v, Tensor logForget) Inputs(int seed, int b, int h, int t, int d, ScalarType dtype, double gateMean = 1.0)
    {
        manual_seed(seed);
        var q = randn(b, h, t, d, dtype: float64);
        var k = randn(b, h, t, d, dtype: float64);
        var v = randn(b, h, t, d, dtype: float64);
        var logf = F.logsigmoid(randn(b, h, t, dtype: float64) + gateMean);
        return (q.to(dtype), k.to(dtype), v.to(dtype), logf.to(dtype == float64 ? float64 : float32));
    }

    /// <summary>Output and gradients of q, k, v, log f under a fixed random upstream gradient.</summary>
    static Tensor[] ValueAndGrads(Kernel kernel, (Tensor q, Tensor k, Tensor v, Tensor logForget) x, int seed = 99)
    {
        var leaves = new[] { x.q, x.k, x.v, x.logForget }.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
        var o = kernel(leaves[0], leaves[1], leaves[2], leaves[3]);
        manual_seed(seed);
        var upstream = randn(o.shape, dtype: float64).to(o.dtype);
        (o * upstream).sum().backward();
        return new[] { o.detach() }.Concat(leaves.Select(l => l.grad!.detach().clone())).ToArray();
    }

    static void AssertClose(Tensor[] actual, Tensor[] expected, double tolerance)
    {
        string[] names = { "output", "dq", "dk", "dv", "dlogForget" };
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Compare.RelativeError(actual[i], expected[i]);
            Assert.True(error < tolerance, $"{names[i]}: relative error {error:E2} ≥ {tolerance:E0}");
        }
    }

    static readonly Kernel Naive = (q, k, v, l) => ForgettingAttentionNaive.Forward(q, k, v, l);
    static readonly Kernel Sdpa = (q, k, v, l) => ForgettingAttentionFast.Sdpa(q, k, v, l);
    static Kernel Chunked(int chunk) => (q, k, v, l) => ForgettingAttentionFast.Chunked(q, k, v, l, chunk);

    [Fact]
    public void NaiveMatchesTokenByTokenRecurrence()
    {
        // Brute force: weight of key j for query i is exp(q·k/√d) · ∏_{l=j+1..i} f_l, normalised over j ≤ i.
        var x = Inputs(1, 1, 2, 7, 4, float64);
        var o = ForgettingAttentionNaive.Forward(x.q, x.k, x.v, x.logForget);
        var f = x.logForget.exp();
        var expected = zeros_like(o);
        for (int hh = 0; hh < 2; hh++)
            for (int i = 0; i < 7; i++)
            {
                var weights = new double[i + 1];
                for (int j = 0; j <= i; j++)
                {
                    double decay = 1;
                    for (int l = j + 1; l <= i; l++) decay *= f[0, hh, l].item<double>();
                    weights[j] = Math.Exp((x.q[0, hh, i] * x.k[0, hh, j]).sum().item<double>() / 2.0) * decay;
                }
                double total = weights.Sum();
                for (int j = 0; j <= i; j++) expected[0, hh, i] += x.v[0, hh, j] * (weights[j] / total);
            }
        Assert.True(Compare.RelativeError(o, expected) < 1e-12);
    }

    [Fact]
    public void SdpaMatchesNaiveFloat64WithGradients()
    {
        var x = Inputs(2, 2, 3, 33, 8, float64);
        AssertClose(ValueAndGrads(Sdpa, x), ValueAndGrads(Naive, x), 1e-6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(64)]
    public void ChunkedMatchesNaiveFloat64WithGradients(int chunk)
    {
        var x = Inputs(3, 2, 2, 37, 8, float64);                                   // 37: never a multiple of the chunk (except 1)
        AssertClose(ValueAndGrads(Chunked(chunk), x), ValueAndGrads(Naive, x), 1e-6);
    }

    [Fact]
    public void ChunkSizeInvariance()
    {
        var x = Inputs(4, 1, 2, 50, 8, float64, gateMean: -1.0);
        var reference = ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, 50);
        foreach (var chunk in new[] { 3, 8, 13, 49, 128 })
            Assert.True(Compare.RelativeError(ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, chunk), reference) < 1e-12, $"chunk {chunk}");
    }

    [Fact]
    public void Float32PathsMatchFloat64Reference()
    {
        var x64 = Inputs(5, 2, 2, 40, 16, float64);
        var x32 = (x64.q.to(float32), x64.k.to(float32), x64.v.to(float32), x64.logForget.to(float32));
        var expected = ValueAndGrads(Naive, x64);
        AssertClose(ValueAndGrads(Sdpa, x32), expected, 1e-3);
        AssertClose(ValueAndGrads(Chunked(16), x32), expected, 1e-3);
        AssertClose(ValueAndGrads(Naive, x32), expected, 1e-3);
    }

    [Fact]
    public void AutomaticChoiceMatchesNaiveOnBothSidesOfTheBudget()
    {
        var x = Inputs(6, 1, 2, 24, 8, float64);
        var expected = ForgettingAttentionNaive.Forward(x.q, x.k, x.v, x.logForget);
        var auto = ForgettingAttentionFast.Forward(x.q, x.k, x.v, x.logForget);
        Assert.True(Compare.RelativeError(auto, expected) < 1e-12);
        var sdpa = ForgettingAttentionFast.Sdpa(x.q, x.k, x.v, x.logForget);
        Assert.True(auto.eq(sdpa).all().item<bool>(), "default budget: SDPA");
        var chunked = new FoxKernelOptions(SdpaMemoryBudgetBytes: 0, ChunkSize: 5);   // nothing fits; ragged last chunk
        var o = ForgettingAttentionFast.Forward(x.q, x.k, x.v, x.logForget, options: chunked);
        Assert.True(Compare.RelativeError(o, expected) < 1e-12);
        var reference = ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, 5);
        Assert.True(o.eq(reference).all().item<bool>(), "budget 0: chunked");
    }

    [Fact]
    public void NoForgettingIsPlainCausalAttention()
    {
        var x = Inputs(7, 2, 2, 30, 8, float64);
        var zero = zeros_like(x.logForget);
        var causal = F.scaled_dot_product_attention(x.q, x.k, x.v, is_casual: true);
        Assert.True(Compare.RelativeError(ForgettingAttentionNaive.Forward(x.q, x.k, x.v, zero), causal) < 1e-12);
        Assert.True(Compare.RelativeError(ForgettingAttentionFast.Sdpa(x.q, x.k, x.v, zero), causal) < 1e-12);
        Assert.True(Compare.RelativeError(ForgettingAttentionFast.Chunked(x.q, x.k, x.v, zero, 8), causal) < 1e-12);
    }

    [Fact]
    public void ConstantGateIsAlibi()
    {
        const int heads = 4, t = 20;
        var logf = ForgetGate.AlibiLogForget(heads, t);                            // [H, T]
        Assert.Equal(new long[] { heads, t }, logf.shape);
        var fox = ForgetGate.DecayBias(logf);
        var alibi = Alibi.Bias(heads, t, t);
        Assert.True(fox.isneginf().eq(alibi.isneginf()).all().item<bool>());
        var finite = alibi.isfinite();
        Assert.True((fox.masked_select(finite) - alibi.masked_select(finite)).abs().max().item<float>() < 1e-5);

        // And the attention outputs agree with SDPA under the ALiBi mask.
        var x = Inputs(8, 2, heads, t, 8, float64);
        var gates = logf.to(float64).unsqueeze(0).expand(2, -1, -1);
        var expected = F.scaled_dot_product_attention(x.q, x.k, x.v, attn_mask: alibi.to(float64).unsqueeze(0).expand(2, -1, -1, -1));
        Assert.True(Compare.RelativeError(ForgettingAttentionFast.Chunked(x.q, x.k, x.v, gates, 6), expected) < 1e-6);
    }

    [Fact]
    public void ExplicitScaleIsHonouredByAllPaths()
    {
        var x = Inputs(9, 1, 2, 19, 8, float64);
        var expected = ForgettingAttentionNaive.Forward(x.q, x.k, x.v, x.logForget, scale: 0.7);
        Assert.True(Compare.RelativeError(ForgettingAttentionFast.Sdpa(x.q, x.k, x.v, x.logForget, 0.7), expected) < 1e-12);
        Assert.True(Compare.RelativeError(ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, 4, 0.7), expected) < 1e-12);
        Assert.True(Compare.RelativeError(ForgettingAttentionNaive.Forward(x.q, x.k, x.v, x.logForget), expected) > 1e-3);
    }

    [Fact]
    public void LongSequenceWithStrongForgettingStaysFinite()
    {
        // T = 16384, log f ≈ −6: c_T ≈ −1e5. The chunked path never forms c_i − c_j from two such sums for nearby tokens.
        const int t = 16384, window = 512;
        var x = Inputs(10, 1, 1, t, 16, float32, gateMean: -6.0);
        Tensor o;
        using (no_grad()) o = ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, 1024);
        Assert.True(o.isfinite().all().item<bool>());
        Assert.True(ForgetGate.Cumulative(x.logForget)[0, 0, -1].item<float>() < -5e4);
        // With such a gate, keys more than a few tokens back carry weight ≈ e^(−6·distance): the last rows equal a
        // float64 naive run on the last `window` tokens only.
        var tail = (Range)((t - window)..);
        var local = ForgettingAttentionNaive.Forward(x.q[.., .., tail].to(float64), x.k[.., .., tail].to(float64),
            x.v[.., .., tail].to(float64), x.logForget[.., .., tail].to(float64));
        Assert.True(Compare.RelativeError(o[.., .., (t - window / 2)..], local[.., .., (window / 2)..]) < 1e-4);
    }

    [Fact]
    public void StrongForgettingGradientsAreFinite()
    {
        var x = Inputs(11, 1, 1, 1024, 8, float32, gateMean: -8.0);
        var grads = ValueAndGrads(Chunked(128), x);
        foreach (var g in grads) Assert.True(g.isfinite().all().item<bool>());
        var sdpa = ValueAndGrads(Sdpa, (x.q[.., .., ..256], x.k[.., .., ..256], x.v[.., .., ..256], x.logForget[.., .., ..256]));
        foreach (var g in sdpa) Assert.True(g.isfinite().all().item<bool>());
    }

    [Fact]
    public void SkippingNegligibleBlocksIsExact()
    {
        // Strong forgetting (log f ≈ −4): blocks two or more chunks back sit far below e^−100 and are skipped.
        var x = Inputs(13, 2, 2, 96, 8, float64, gateMean: -4.0);
        long before = ForgettingAttentionFast.SkippedBlocks;
        var skipping = ValueAndGrads(Chunked(8), x);
        Assert.True(ForgettingAttentionFast.SkippedBlocks - before > 50, "expected skipped blocks in forward and backward");
        before = ForgettingAttentionFast.SkippedBlocks;
        var full = ValueAndGrads((q, k, v, l) => ForgettingAttentionFast.Chunked(q, k, v, l, 8, skipMargin: double.PositiveInfinity), x);
        Assert.Equal(before, ForgettingAttentionFast.SkippedBlocks);
        AssertClose(skipping, full, 1e-12);
        AssertClose(skipping, ValueAndGrads(Naive, x), 1e-10);
    }

    [Fact]
    public void BadShapesNameTheArgument()
    {
        var x = Inputs(12, 1, 2, 5, 4, float32);
        var e = Assert.Throws<ArgumentException>(() => ForgettingAttentionNaive.Forward(x.q[0], x.k, x.v, x.logForget));
        Assert.Equal("q", e.ParamName); Assert.Contains("[B, H, T, D]", e.Message);
        e = Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.Sdpa(x.q, x.k[.., .., ..4], x.v, x.logForget));
        Assert.Equal("k", e.ParamName); Assert.Contains("[B, H, T, D]", e.Message);
        e = Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.Chunked(x.q, x.k, x.v[.., .., ..3], x.logForget, 2));
        Assert.Equal("v", e.ParamName); Assert.Contains("[B, H, T, Dv]", e.Message);
        e = Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.Forward(x.q, x.k, x.v, x.logForget.unsqueeze(-1)));
        Assert.Equal("logForget", e.ParamName); Assert.Contains("[B, H, T]", e.Message);
        e = Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget[.., ..1], 2));
        Assert.Equal("logForget", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => ForgettingAttentionFast.Chunked(x.q, x.k, x.v, x.logForget, 0));
    }
}
