using PathNotebooks.PaTH;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.PaTH;

/// <summary>Random PaTH inputs: q, k, v [B, H, T, D], unit w, β ∈ (0, 2), log f ≤ 0.</summary>
internal sealed record PathInputs(Tensor Q, Tensor K, Tensor V, Tensor W, Tensor Beta, Tensor LogForget)
{
    public static PathInputs Random(long b, long h, long t, long d, ScalarType dtype, int seed, bool grad = false)
    {
        var g = new Generator((ulong)seed);
        Tensor Leaf(Tensor x) => grad ? x.to(dtype).detach().requires_grad_(true) : x.to(dtype);
        var q = randn(new[] { b, h, t, d }, generator: g, dtype: ScalarType.Float64);
        var k = randn(new[] { b, h, t, d }, generator: g, dtype: ScalarType.Float64);
        var v = randn(new[] { b, h, t, d }, generator: g, dtype: ScalarType.Float64);
        var w = F.normalize(randn(new[] { b, h, t, d }, generator: g, dtype: ScalarType.Float64), p: 2, dim: -1);
        var beta = 2 * randn(new[] { b, h, t }, generator: g, dtype: ScalarType.Float64).sigmoid();
        var logf = F.logsigmoid(randn(new[] { b, h, t }, generator: g, dtype: ScalarType.Float64) + 2);
        return new PathInputs(Leaf(q), Leaf(k), Leaf(v), Leaf(w), Leaf(beta), Leaf(logf));
    }

    public Tensor[] All => new[] { Q, K, V, W, Beta, LogForget };
}

[Collection("torch")]
public class PathKernelTests
{
    [Fact]
    public void RecurrenceEqualsExplicitProducts()
    {
        var x = PathInputs.Random(2, 2, 6, 4, ScalarType.Float64, 1);
        var a = PathAttentionNaive.Logits(x.Q, x.K, x.W, x.Beta);
        var b = PathAttentionNaive.LogitsByExplicitProducts(x.Q, x.K, x.W, x.Beta);
        var finite = isfinite(b);
        Assert.True((finite == isfinite(a)).all().item<bool>());
        Assert.True(Compare.RelativeError(a.masked_fill(~finite, 0), b.masked_fill(~finite, 0)) < 1e-12);
    }

    [Theory]
    [InlineData(1, 1, 1, 4, 4)]      // T = 1
    [InlineData(2, 3, 16, 8, 4)]     // T multiple of C
    [InlineData(1, 2, 23, 8, 8)]     // T not a multiple of C
    [InlineData(2, 1, 37, 4, 64)]    // one chunk (C > T)
    public void ChunkedEqualsNaiveFloat64(int b, int h, int t, int d, int chunk)
    {
        var x = PathInputs.Random(b, h, t, d, ScalarType.Float64, 10 + t);
        foreach (var logf in new[] { null, x.LogForget })
        {
            var reference = PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta, logf);
            var online = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, logf, chunk);
            var materialized = PathAttentionChunked.ForwardMaterialized(x.Q, x.K, x.V, x.W, x.Beta, logf, chunk);
            Assert.Equal(reference.shape, online.shape);
            Assert.Equal(ScalarType.Float64, online.dtype);
            Assert.True(Compare.RelativeError(online, reference) < 1e-6, $"online {Compare.RelativeError(online, reference)}");
            Assert.True(Compare.RelativeError(materialized, reference) < 1e-6);
        }
    }

    [Fact]
    public void ChunkedEqualsNaiveFloat32AndBFloat16()
    {
        var x = PathInputs.Random(2, 2, 50, 16, ScalarType.Float64, 3);
        var reference = PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget);
        Tensor F32(Tensor t) => t.to(ScalarType.Float32);
        var o32 = PathAttentionChunked.Forward(F32(x.Q), F32(x.K), F32(x.V), F32(x.W), F32(x.Beta), F32(x.LogForget), 16);
        Assert.Equal(ScalarType.Float32, o32.dtype);
        Assert.True(Compare.RelativeError(o32, reference) < 1e-3, $"fp32 {Compare.RelativeError(o32, reference)}");
        // bf16 q, k, v (w, β, log f fp32 as the kernel expects): the error is the bf16 rounding of the inputs/output
        Tensor Bf(Tensor t) => t.to(ScalarType.BFloat16);
        var o16 = PathAttentionChunked.Forward(Bf(x.Q), Bf(x.K), Bf(x.V), F32(x.W), F32(x.Beta), F32(x.LogForget), 16);
        Assert.Equal(ScalarType.BFloat16, o16.dtype);
        var ref16 = PathAttentionNaive.Forward(Bf(x.Q), Bf(x.K), Bf(x.V), F32(x.W), F32(x.Beta), F32(x.LogForget));
        Assert.True(Compare.RelativeError(o16, ref16) < 1e-2, $"bf16 {Compare.RelativeError(o16, ref16)}");
    }

    [Fact]
    public void ChunkSizeDoesNotChangeTheResult()
    {
        var x = PathInputs.Random(1, 2, 29, 8, ScalarType.Float64, 5);
        var baseline = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget, 29);
        foreach (var c in new[] { 1, 3, 8, 16 })
            Assert.True(Compare.RelativeError(PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget, c), baseline) < 1e-12);
    }

    [Fact]
    public void GradientsMatchNaive()
    {
        foreach (var withGate in new[] { false, true })
        {
            Tensor[] Grads(Func<PathInputs, Tensor> f)
            {
                var x = PathInputs.Random(1, 2, 13, 4, ScalarType.Float64, 8, grad: true);
                var upstream = randn(new long[] { 1, 2, 13, 4 }, generator: new Generator(99), dtype: ScalarType.Float64);
                (f(x) * upstream).sum().backward();
                return x.All.Select(t => t.grad ?? zeros(1)).ToArray();
            }
            var naive = Grads(x => PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta, withGate ? x.LogForget : null));
            var chunked = Grads(x => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, withGate ? x.LogForget : null, 4));
            var names = new[] { "q", "k", "v", "w", "beta", "logForget" };
            for (int i = 0; i < (withGate ? 6 : 5); i++)
            {
                Assert.True(naive[i].abs().sum().item<double>() > 0, $"{names[i]} has no gradient");
                Assert.True(Compare.RelativeError(chunked[i], naive[i]) < 1e-9, $"grad {names[i]}: {Compare.RelativeError(chunked[i], naive[i])}");
            }
        }
    }

    [Theory]
    [InlineData(37, 8)]     // five chunks, the last one partial: every step of the sweep's backward chain
    [InlineData(40, 1)]     // chunk size 1: every query crosses one transform per step
    public void SweepGradientsMatchNaiveOverManyChunks(int t, int chunk)
    {
        foreach (var withGate in new[] { false, true })
        {
            Tensor[] Grads(Func<PathInputs, Tensor> f)
            {
                var x = PathInputs.Random(2, 1, t, 6, ScalarType.Float64, 21, grad: true);
                var upstream = randn(new long[] { 2, 1, t, 6 }, generator: new Generator(5), dtype: ScalarType.Float64);
                (f(x) * upstream).sum().backward();
                return x.All.Select(a => a.grad ?? zeros(1)).ToArray();
            }
            var naive = Grads(x => PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta, withGate ? x.LogForget : null));
            var chunked = Grads(x => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, withGate ? x.LogForget : null, chunk, scale: 0.7));
            var scaledNaive = Grads(x => PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta, withGate ? x.LogForget : null, scale: 0.7));
            var names = new[] { "q", "k", "v", "w", "beta", "logForget" };
            for (int i = 0; i < (withGate ? 6 : 5); i++)
            {
                Assert.True(Compare.RelativeError(naive[i], scaledNaive[i]) > 1e-3, "the scale must matter");
                Assert.True(Compare.RelativeError(chunked[i], scaledNaive[i]) < 1e-9, $"grad {names[i]} (gate {withGate}): {Compare.RelativeError(chunked[i], scaledNaive[i])}");
            }
        }
    }

    [Fact]
    public void Float32GradientsMatchTheFloat64Reference()
    {
        var x = PathInputs.Random(1, 2, 45, 8, ScalarType.Float64, 31);
        var upstream = randn(new long[] { 1, 2, 45, 8 }, generator: new Generator(6), dtype: ScalarType.Float64);
        Tensor[] Grads(ScalarType dtype, Func<Tensor[], Tensor> f)
        {
            var leaves = x.All.Select(a => a.to(dtype).detach().requires_grad_(true)).ToArray();
            (f(leaves).to(ScalarType.Float64) * upstream).sum().backward();
            return leaves.Select(a => a.grad!.to(ScalarType.Float64)).ToArray();
        }
        var reference = Grads(ScalarType.Float64, a => PathAttentionNaive.Forward(a[0], a[1], a[2], a[3], a[4], a[5]));
        var fp32 = Grads(ScalarType.Float32, a => PathAttentionChunked.Forward(a[0], a[1], a[2], a[3], a[4], a[5], 16));
        for (int i = 0; i < 6; i++)
            Assert.True(Compare.RelativeError(fp32[i], reference[i]) < 1e-3, $"grad {i}: {Compare.RelativeError(fp32[i], reference[i])}");
    }

    [Fact]
    public void LargeLogitsAndPositiveGatesTakeTheExactStabiliserAndStayExact()
    {
        // Queries 40× larger make the norm bound far looser than the true row maxima; positive log f voids the bound.
        // Both must switch the sweep to its exact row-maximum pass, with forward and gradients still equal to naive.
        var x = PathInputs.Random(1, 2, 30, 8, ScalarType.Float64, 61, grad: true);
        long ordinary = PathAttentionChunked.Sweep.ExactFallbacks;
        PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget, 8);
        Assert.Equal(ordinary, PathAttentionChunked.Sweep.ExactFallbacks);               // ordinary inputs: the fixed bound
        foreach (var (qScale, logf) in new[] { (40.0, (Tensor?)null), (1.0, x.LogForget.abs() * 0.3) })
        {
            long before = PathAttentionChunked.Sweep.ExactFallbacks;
            Tensor[] Grads(Func<Tensor, Tensor> f)
            {
                foreach (var t in x.All) t.grad?.zero_();
                var o = f(x.Q * qScale);
                (o * o).sum().backward();
                return new[] { o.detach().clone() }.Concat(new[] { x.Q, x.K, x.V, x.W, x.Beta }.Select(t => t.grad!.clone())).ToArray();
            }
            var naive = Grads(q => PathAttentionNaive.Forward(q, x.K, x.V, x.W, x.Beta, logf?.detach()));
            var chunked = Grads(q => PathAttentionChunked.Forward(q, x.K, x.V, x.W, x.Beta, logf?.detach(), 8));
            Assert.True(PathAttentionChunked.Sweep.ExactFallbacks > before, "the exact pass must run");
            for (int i = 0; i < naive.Length; i++)
                Assert.True(Compare.RelativeError(chunked[i], naive[i]) < 1e-9, $"scale {qScale}, item {i}: {Compare.RelativeError(chunked[i], naive[i])}");
        }
    }

    [Fact]
    public void ForwardWithoutGradientsEqualsForwardWithGradients()
    {
        var x = PathInputs.Random(1, 2, 33, 8, ScalarType.Float64, 41, grad: true);
        var tracked = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget, 8);
        Assert.True(tracked.requires_grad);
        Tensor plain;
        using (no_grad()) plain = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget, 8);
        Assert.False(plain.requires_grad);
        Assert.True(Compare.RelativeError(plain, tracked.detach()) < 1e-14);
    }

    [Fact]
    public void BetaZeroIsPlainCausalSoftmaxAttention()
    {
        var x = PathInputs.Random(2, 2, 21, 8, ScalarType.Float64, 4);
        var zero = zeros_like(x.Beta);
        var sdpa = F.scaled_dot_product_attention(x.Q, x.K, x.V, is_casual: true);
        Assert.True(Compare.RelativeError(PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, zero, null, 8), sdpa) < 1e-10);
        Assert.True(Compare.RelativeError(PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, zero), sdpa) < 1e-10);
    }

    [Fact]
    public void PathFoxReducesToPathAndToGatedSoftmax()
    {
        var x = PathInputs.Random(1, 2, 19, 8, ScalarType.Float64, 6);
        // log f = 0 → PaTH
        var plain = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, null, 8);
        var gated0 = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, zeros_like(x.LogForget), 8);
        Assert.True(Compare.RelativeError(gated0, plain) < 1e-12);
        // β = 0 → softmax(scale·(q·k + c_i − c_j)), written out explicitly
        var zero = zeros_like(x.Beta);
        double scale = 1 / Math.Sqrt(8);
        var c = x.LogForget.cumsum(-1);
        var logits = scale * (x.Q.matmul(x.K.transpose(-2, -1)) + c.unsqueeze(-1) - c.unsqueeze(-2));
        logits = logits.masked_fill(ones(19, 19, dtype: ScalarType.Bool).triu(1), double.NegativeInfinity);
        var expected = logits.softmax(-1).matmul(x.V);
        Assert.True(Compare.RelativeError(PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, zero, x.LogForget, 8), expected) < 1e-10);
        Assert.True(Compare.RelativeError(PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, zero, x.LogForget), expected) < 1e-10);
    }

    [Fact]
    public void DecodingEqualsFullForward()
    {
        var x = PathInputs.Random(2, 2, 17, 8, ScalarType.Float64, 12);
        foreach (var logf in new[] { null, x.LogForget })
        {
            var full = PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, logf, 4);
            using var cache = new PathDecodeCache();
            var steps = new List<Tensor>();
            for (int t = 0; t < 17; t++)
                steps.Add(cache.Step(x.Q[.., .., t], x.K[.., .., t], x.V[.., .., t], x.W[.., .., t], x.Beta[.., .., t], logf?[.., .., t]));
            Assert.True(Compare.RelativeError(stack(steps, 2), full) < 1e-12);

            // prefill 11 tokens, then decode the remaining 6
            using var pre = PathDecodeCache.Prefill(x.K[.., .., ..11], x.V[.., .., ..11], x.W[.., .., ..11], x.Beta[.., .., ..11], logf?[.., .., ..11], chunkSize: 4);
            Assert.Equal(11, pre.Length);
            for (int t = 11; t < 17; t++)
            {
                var o = pre.Step(x.Q[.., .., t], x.K[.., .., t], x.V[.., .., t], x.W[.., .., t], x.Beta[.., .., t], logf?[.., .., t]);
                Assert.True(Compare.RelativeError(o, full[.., .., t]) < 1e-12, $"step {t}");
            }
        }
    }

    [Fact]
    public void PrefillKeysAreTransformedByAllLaterHouseholders()
    {
        var x = PathInputs.Random(1, 1, 9, 4, ScalarType.Float64, 13);
        var keys = PathDecodeCache.TransformKeys(x.K, x.W, x.Beta, chunkSize: 4);
        for (int j = 0; j < 9; j++)
        {
            var expected = Householder.Product(x.W, x.Beta, j + 1, 8).matmul(x.K[.., .., j].unsqueeze(-1)).squeeze(-1);
            Assert.True(Compare.RelativeError(keys[.., .., j], expected) < 1e-12);
        }
    }

    [Fact]
    public void BadShapesAndDtypesNameTheArgument()
    {
        var x = PathInputs.Random(1, 2, 5, 4, ScalarType.Float32, 0);
        string Param(Action a) => Assert.Throws<ArgumentException>(a).ParamName!;
        Assert.Equal("q", Param(() => PathAttentionChunked.Forward(x.Q[0], x.K, x.V, x.W, x.Beta)));
        Assert.Equal("k", Param(() => PathAttentionChunked.Forward(x.Q, x.K[.., .., ..4], x.V, x.W, x.Beta)));
        Assert.Equal("v", Param(() => PathAttentionChunked.Forward(x.Q, x.K, x.V[.., ..1], x.W, x.Beta)));
        Assert.Equal("w", Param(() => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W[.., .., .., ..2], x.Beta)));
        Assert.Equal("beta", Param(() => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta.unsqueeze(-1))));
        Assert.Equal("logForget", Param(() => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, x.LogForget[.., .., ..3])));
        Assert.Equal("q", Param(() => PathAttentionChunked.Forward(x.Q.to(ScalarType.Int64), x.K, x.V, x.W, x.Beta)));
        Assert.Equal("beta", Param(() => PathAttentionNaive.Forward(x.Q, x.K, x.V, x.W, x.Beta.to(ScalarType.Int32))));
        Assert.Equal("chunkSize", Assert.Throws<ArgumentOutOfRangeException>(() => PathAttentionChunked.Forward(x.Q, x.K, x.V, x.W, x.Beta, null, 0)).ParamName);
        Assert.Equal("beta", Param(() => Householder.UT(x.W, x.Beta[.., .., ..2])));
    }
}
