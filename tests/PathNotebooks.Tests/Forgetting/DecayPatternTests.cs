using PathNotebooks.Forgetting;

namespace PathNotebooks.Tests.Forgetting;

[Collection("torch")]
public class DecayPatternTests
{
    [Fact]
    public void ConstantGateDecaysGeometrically()
    {
        var m = DecayPatterns.Constant(6, 0.5);
        Assert.Equal(new long[] { 6, 6 }, m.shape);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.Equal(j <= i ? Math.Pow(0.5, i - j) : 0.0, m[i, j].item<float>(), 6);
    }

    [Fact]
    public void ResetCutsTheHistory()
    {
        const int t = 10, reset = 4;
        var m = DecayPatterns.Reset(t, reset, forget: 0.9, resetForget: 1e-8);
        var constant = DecayPatterns.Constant(t, 0.9);
        for (int i = 0; i < t; i++)
            for (int j = 0; j <= i; j++)
            {
                bool across = j < reset && i >= reset;                                 // key before the reset, query at/after it
                if (across) Assert.True(m[i, j].item<float>() < 1e-7, $"({i},{j})");
                else Assert.Equal(constant[i, j].item<float>(), m[i, j].item<float>(), 5);
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => DecayPatterns.Reset(t, t));
    }

    [Fact]
    public void RandomGatesAreLowerTriangularWithUnitDiagonalAndSeeded()
    {
        var m = DecayPatterns.Random(12, seed: 3);
        Assert.Equal(0.0f, m.triu(1).abs().sum().item<float>());
        Assert.True((m.diagonal() - 1).abs().max().item<float>() < 1e-6);
        Assert.True(m.le(1).all().item<bool>() && m.ge(0).all().item<bool>());
        // Moving away from the diagonal along a column never increases the factor (every f ≤ 1).
        Assert.True(m[1.., ..].sub(m[..^1, ..]).tril(-1).le(1e-7).all().item<bool>());
        Assert.True(Compare.RelativeError(DecayPatterns.Random(12, seed: 3), m) == 0);
        Assert.True(Compare.RelativeError(DecayPatterns.Random(12, seed: 4), m) > 1e-3);
    }

    [Fact]
    public void DecayBiasIsExactDifferenceOfCumulativeSums()
    {
        manual_seed(5);
        var logf = nn.functional.logsigmoid(randn(2, 3, 9, dtype: float64));
        var bias = ForgetGate.DecayBias(logf);
        Assert.Equal(new long[] { 2, 3, 9, 9 }, bias.shape);
        Assert.Equal(float64, bias.dtype);
        // D_ij = Σ_{l=j+1..i} log f_l.
        Assert.Equal(logf[1, 2, 3..7].sum().item<double>(), bias[1, 2, 6, 2].item<double>(), 12);
        Assert.Equal(0.0, bias[0, 0, 4, 4].item<double>());
        Assert.True(bias[0, 0, 2, 3].isneginf().item<bool>());
        // bf16 pre-activations are promoted to float32.
        Assert.Equal(float32, ForgetGate.LogForget(randn(4).to(bfloat16)).dtype);
    }
}
