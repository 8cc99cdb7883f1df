using PathNotebooks.Positional;
using static TorchSharp.torch;

namespace PathNotebooks.Tests.Positional;

[Collection("torch")]
public class OffsetAttentionTests
{
    /// <summary>Uniform causal attention: p[t, j] = 1/(t+1) for j ≤ t, as a [B = 2, H = 1, T, T] tensor.</summary>
    static Tensor Uniform(int t) => CausalMask.Additive(t, t).to(ScalarType.Float64).softmax(-1).expand(2, 1, t, t);

    /// <summary>A head that always attends to the key <paramref name="lag"/> back (to key 0 while t &lt; lag).</summary>
    static Tensor Shifted(int t, int lag)
    {
        var p = zeros(1, 1, t, t, dtype: ScalarType.Float64);
        for (int i = 0; i < t; i++) p[0, 0, i, Math.Max(0, i - lag)] = 1.0;
        return p;
    }

    [Fact]
    public void AtOffsetReadsTheDiagonalAndIsZeroBeforeIt()
    {
        var a = OffsetAttention.AtOffset(Uniform(6), 2);
        Assert.Equal(new long[] { 1, 6 }, a.shape);
        var v = a[0].data<double>().ToArray();
        Assert.Equal(new[] { 0.0, 0.0 }, v[..2]);
        for (int t = 2; t < 6; t++) Assert.Equal(1.0 / (t + 1), v[t], 12);
        var s = OffsetAttention.AtOffset(Shifted(8, 3), 3)[0].data<double>().ToArray();
        Assert.All(s[3..], x => Assert.Equal(1.0, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => OffsetAttention.AtOffset(Uniform(4), 4));
    }

    [Fact]
    public void AtLeastCountsOnlyKeysThatFarBack()
    {
        var far = OffsetAttention.AtLeast(Uniform(5), 3)[0].data<double>().ToArray();   // keys j ≤ t − 3: t − 2 of t + 1
        Assert.Equal(new[] { 0.0, 0.0, 0.0, 1.0 / 4, 2.0 / 5 }, far.Select(x => Math.Round(x, 12)).ToArray());
        var all = OffsetAttention.AtLeast(Uniform(5), 0)[0].data<double>().ToArray();
        Assert.All(all, x => Assert.Equal(1.0, x, 12));
    }

    [Fact]
    public void ByDistancePeaksAtTheHeadsOffset()
    {
        var profile = OffsetAttention.ByDistance(Shifted(16, 4), 8, 4, 16)[0].data<double>().ToArray();
        Assert.Equal(9, profile.Length);
        Assert.Equal(1.0, profile[4], 12);
        Assert.Equal(1.0, profile.Sum(), 12);
        // uniform: offset d over queries t ∈ [4, 8) is the mean of 1/(t+1)
        var u = OffsetAttention.ByDistance(Uniform(8), 2, 4, 8)[0].data<double>().ToArray();
        Assert.Equal(Enumerable.Range(4, 4).Average(t => 1.0 / (t + 1)), u[2], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => OffsetAttention.ByDistance(Uniform(8), 2, 5, 5));
        Assert.Throws<ArgumentException>(() => OffsetAttention.AtOffset(zeros(1, 1, 3, 4, dtype: ScalarType.Float64), 1));
    }
}
