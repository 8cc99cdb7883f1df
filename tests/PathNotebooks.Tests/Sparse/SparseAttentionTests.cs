using PathNotebooks.Sparse;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.Sparse;

/// <summary>The batched native sparse attention against its per-query reference (float64, odd lengths), and its special cases.</summary>
[Collection("torch")]
public class SparseAttentionTests
{
    /// <summary>(block l, selected n, window W, heads H, KV heads): one selected block, GQA, n beyond the block count.</summary>
    public static TheoryData<int, int, int, int, int> Settings() => new()
    {
        { 2, 1, 1, 3, 1 },
        { 3, 2, 4, 4, 2 },
        { 4, 3, 5, 2, 2 },
        { 2, 3, 2, 4, 1 },
        { 5, 16, 3, 2, 1 },
        { 1, 4, 2, 2, 2 },
    };

    static Tensor[] Inputs(int heads, int kvHeads, int t, int seed)
    {
        var g = new Generator((ulong)seed);
        Tensor Leaf(Tensor x) => x.requires_grad_(true);
        return new[]
        {
            Leaf(randn(new long[] { 2, heads, t, 4 }, dtype: float64, generator: g)),
            Leaf(randn(new long[] { 2, kvHeads, t, 4 }, dtype: float64, generator: g)),
            Leaf(randn(new long[] { 2, kvHeads, t, 3 }, dtype: float64, generator: g)),
            Leaf(rand(new long[] { 2, heads, t, 3 }, dtype: float64, generator: g)),
        };
    }

    static Tensor[] ValueAndGradients(Func<Tensor[], Tensor> f, Tensor[] inputs)
    {
        var leaves = inputs.Select(x => x.detach().clone().requires_grad_(true)).ToArray();
        var o = f(leaves);
        (o * cos(arange(o.numel(), dtype: float64).view(o.shape))).sum().backward();
        return new[] { o.detach() }.Concat(leaves.Select(x => x.grad!)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void BatchedEqualsNaiveInValueGradientsAndSelection(int block, int n, int window, int heads, int kvHeads)
    {
        string[] names = { "output", "dq", "dk", "dv", "dgates" };
        foreach (int t in new[] { 1, 6, 13, 37 })
        {
            var x = Inputs(heads, kvHeads, t, seed: t * 7 + block);
            var expected = ValueAndGradients(i => SparseAttentionNaive.Forward(i[0], i[1], i[2], i[3], block, n, window), x);
            var actual = ValueAndGradients(i => SparseAttention.Forward(i[0], i[1], i[2], i[3], block, n, window), x);
            for (int m = 0; m < names.Length; m++)
            {
                double error = Compare.RelativeError(actual[m], expected[m]);
                Assert.True(error < 1e-10, $"l={block} n={n} W={window} T={t}: {names[m]} relative error {error:E2}");
            }
            var fast = SparseAttention.SelectedBlockIndices(x[0], x[1], block, n);
            Assert.Equal(new long[] { 2, kvHeads, t, n }, fast.shape);
            Assert.True(fast.eq(SparseAttentionNaive.SelectedBlockIndices(x[0], x[1], block, n)).all().item<bool>(), $"l={block} n={n} T={t}: selections differ");
        }
    }

    [Fact]
    public void SelectionAlwaysHoldsTheCurrentBlockAndFillsUpWithMinusOne()
    {
        const int t = 41, block = 3, n = 4;
        var x = Inputs(4, 2, t, seed: 3);
        var chosen = SparseAttention.SelectedBlockIndices(x[0], x[1], block, n);          // [2, 2, T, n]
        var position = arange(t).view(1, 1, t, 1);
        Assert.True(chosen.eq(position.div(block, rounding_mode: RoundingMode.floor)).any(-1).all().item<bool>());     // current block
        Assert.True(chosen.eq(0).any(-1).all().item<bool>());                                      // first block (n ≥ 3)
        var previous = (position.div(block, rounding_mode: RoundingMode.floor) - 1).clamp_min(0);
        Assert.True(chosen.eq(previous).any(-1).all().item<bool>());                               // previous block
        Assert.True(chosen[TensorIndex.Ellipsis, 0].ge(0).all().item<bool>());                            // slot 0 always used
        // Query 4 sits in block 1: only blocks 0 and 1 exist, the other two slots are unused.
        Assert.Equal(new long[] { 1, 0, -1, -1 }, chosen[0, 0, 4].data<long>().ToArray());
        Assert.True(chosen.lt(position.div(block, rounding_mode: RoundingMode.floor) + 1).all().item<bool>());    // never a future block
    }

    static Tensor Gates(long b, long h, long t, double cmp, double slc, double win) =>
        tensor(new[] { cmp, slc, win }, dtype: float64).view(1, 1, 1, 3).expand(b, h, t, 3);

    [Fact]
    public void WithEverythingSelectedTheSelectedAndWindowBranchesAreFullCausalAttention()
    {
        const int t = 23;
        var x = Inputs(4, 2, t, seed: 5);
        var causal = F.scaled_dot_product_attention(x[0], x[1].repeat_interleave(2, 1), x[2].repeat_interleave(2, 1), is_casual: true);
        var selected = SparseAttention.Forward(x[0], x[1], x[2], Gates(2, 4, t, 0, 1, 0), blockSize: 4, selectedBlocks: 6, window: 30);
        Assert.True(Compare.RelativeError(selected, causal) < 1e-12);
        var windowed = SparseAttention.Forward(x[0], x[1], x[2], Gates(2, 4, t, 0, 0, 1), blockSize: 4, selectedBlocks: 1, window: t);
        Assert.True(Compare.RelativeError(windowed, causal) < 1e-12);
    }

    [Fact]
    public void QueriesBeforeTheFirstCompleteBlockGetZeroCompressedOutput()
    {
        const int t = 11, block = 4;
        var x = Inputs(2, 2, t, seed: 6);
        var compressed = SparseAttention.Forward(x[0], x[1], x[2], Gates(2, 2, t, 1, 0, 0), block, 2, 3);
        Assert.Equal(0.0, compressed[.., .., ..(block - 1)].abs().max().item<double>());
        Assert.True(compressed[.., .., (block - 1)..].abs().min().item<double>() > 0);
        // The first query that sees block 0 (t = 3) sees only it: its output is block 0's mean value.
        Assert.True(Compare.RelativeError(compressed[.., .., block - 1], x[2][.., .., ..block].mean(new long[] { 2 })) < 1e-12);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var x = Inputs(4, 2, 7, seed: 1);
        Tensor Run(Tensor? k = null, Tensor? gates = null, int block = 2, int n = 2, int window = 2) =>
            SparseAttention.Forward(x[0], k ?? x[1], x[2], gates ?? x[3], block, n, window);
        Assert.Equal("blockSize", Assert.Throws<ArgumentOutOfRangeException>(() => Run(block: 0)).ParamName);
        Assert.Equal("selectedBlocks", Assert.Throws<ArgumentOutOfRangeException>(() => Run(n: 0)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => Run(window: 0)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => Run(k: randn(2, 3, 7, 4, dtype: float64)));
        Assert.Equal("k", e.ParamName);
        Assert.Contains("Hkv dividing H", e.Message);
        e = Assert.Throws<ArgumentException>(() => Run(gates: randn(2, 4, 7, 2, dtype: float64)));
        Assert.Equal("gates", e.ParamName);
        Assert.Contains("[B, H, T, 3]", e.Message);
        Assert.Equal("v", Assert.Throws<ArgumentException>(() => SparseAttention.Forward(x[0], x[1], x[2][.., .., ..5], x[3], 2, 2, 2)).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentOutOfRangeException>(() => SparseAttentionNaive.Forward(x[0], x[1], x[2], x[3], 0, 2, 2)).ParamName);
    }
}
