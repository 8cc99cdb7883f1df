using PathNotebooks.Positional;

namespace PathNotebooks.Tests.Positional;

[Collection("torch")]
public class RopeTests
{
    [Theory]
    [InlineData(RopePairing.Interleaved)]
    [InlineData(RopePairing.RotateHalf)]
    public void PreservesNorms(RopePairing pairing)
    {
        torch.manual_seed(1);
        var x = randn(2, 3, 17, 8, dtype: float64);
        var y = Rope.Apply(x, pairing);
        Assert.True(Compare.RelativeError(y.norm(-1), x.norm(-1)) < 1e-12);
    }

    [Theory]
    [InlineData(RopePairing.Interleaved)]
    [InlineData(RopePairing.RotateHalf)]
    public void DotProductDependsOnlyOnOffset(RopePairing pairing)
    {
        torch.manual_seed(2);
        var q = randn(1, 1, 1, 16, dtype: float64);
        var k = randn(1, 1, 1, 16, dtype: float64);
        double Score(int m, int n) =>
            (Rope.Apply(q, pairing, offset: m) * Rope.Apply(k, pairing, offset: n)).sum().item<double>();
        foreach (var shift in new[] { 1, 7, 100, 4096 })
            Assert.Equal(Score(5, 2), Score(5 + shift, 2 + shift), 9);
        Assert.NotEqual(Score(5, 2), Score(5, 3), 6);
    }

    [Fact]
    public void PairingsDiffer()
    {
        torch.manual_seed(3);
        var x = randn(1, 1, 4, 8, dtype: float64);
        var a = Rope.Apply(x, RopePairing.Interleaved);
        var b = Rope.Apply(x, RopePairing.RotateHalf);
        Assert.True(Compare.RelativeError(a, b) > 1e-3);
        // Position 0 is the identity for both.
        Assert.True(Compare.RelativeError(a[.., .., 0], x[.., .., 0]) < 1e-15);
    }

    [Fact]
    public void InterleavedMatchesExplicitRotationMatrix()
    {
        var x = tensor(new double[] { 1, 2, 3, 4 }).view(1, 4);                   // T = 1, D = 4
        int m = 3; var theta = Rope.Frequencies(4).data<double>().ToArray();     // θ₀ = 1, θ₁ = 1/100
        var y = Rope.Apply(x, RopePairing.Interleaved, offset: m).data<double>().ToArray();
        double c0 = Math.Cos(m * theta[0]), s0 = Math.Sin(m * theta[0]), c1 = Math.Cos(m * theta[1]), s1 = Math.Sin(m * theta[1]);
        Assert.Equal(1 * c0 - 2 * s0, y[0], 12); Assert.Equal(1 * s0 + 2 * c0, y[1], 12);
        Assert.Equal(3 * c1 - 4 * s1, y[2], 12); Assert.Equal(3 * s1 + 4 * c1, y[3], 12);
    }

    [Fact]
    public void LongTermDecayBoundStartsAtMaximumAndDecays()
    {
        var bound = Rope.LongTermDecayBound(64, 1024);
        Assert.Equal(bound.Max(), bound[0], 12);
        Assert.True(bound[1024] < 0.2 * bound[0]);
    }

    [Fact]
    public void BadInputsNameTheArgument()
    {
        var odd = Assert.Throws<ArgumentException>(() => Rope.Apply(randn(2, 5)));
        Assert.Equal("x", odd.ParamName);
        Assert.Contains("even", odd.Message);
        var flat = Assert.Throws<ArgumentException>(() => Rope.Apply(randn(8)));
        Assert.Contains("[..., T, D]", flat.Message);
        var ints = Assert.Throws<ArgumentException>(() => Rope.Apply(ones(2, 4, dtype: int64)));
        Assert.Contains("floating-point", ints.Message);
        var (cos, sin) = Rope.Angles(3, 8);
        var table = Assert.Throws<ArgumentException>(() => Rope.Apply(randn(1, 4, 8), cos, sin));
        Assert.Equal("cos", table.ParamName);
        Assert.Throws<ArgumentException>(() => Rope.Frequencies(7));
    }
}
