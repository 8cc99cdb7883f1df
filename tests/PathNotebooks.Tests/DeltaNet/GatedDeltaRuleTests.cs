using PathNotebooks.DeltaNet;
using PathNotebooks.PaTH;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.DeltaNet;

/// <summary>The chunked and scan forms of the gated delta rule against the float64 token recurrence, and the
/// recurrence against explicit matrix products.</summary>
[Collection("torch")]
public class GatedDeltaRuleTests
{
    const long B = 2, H = 2, Dk = 5, Dv = 3;

    /// <summary>Random float64 inputs as the layer makes them: unit q and k, g ≤ 0, β ∈ (0, 1) (×2 for the
    /// negative-eigenvalue range), plus an initial state; all leaves with gradients.</summary>
    static Tensor[] Inputs(long t, int seed, double betaRange = 1, bool withState = true)
    {
        var gen = new Generator((ulong)seed);
        Tensor R(params long[] shape) => randn(shape, dtype: float64, generator: gen);
        var q = F.normalize(R(B, H, t, Dk), p: 2, dim: -1);
        var k = F.normalize(R(B, H, t, Dk), p: 2, dim: -1);
        var v = R(B, H, t, Dv);
        var g = F.logsigmoid(R(B, H, t) + 2);
        var beta = betaRange * R(B, H, t).sigmoid();
        var list = new List<Tensor> { q, k, v, g, beta };
        if (withState) list.Add(0.5 * R(B, H, Dk, Dv));
        return list.Select(x => x.detach().requires_grad_(true)).ToArray();
    }

    delegate (Tensor Output, Tensor FinalState) Form(Tensor[] x);

    /// <summary>Output, final state, and the gradients of a fixed random functional of both w.r.t. every input.</summary>
    static List<Tensor> ValueAndGradients(Form form, Tensor[] inputs)
    {
        var leaves = inputs.Select(x => x.detach().clone().requires_grad_(true)).ToArray();
        var (o, s) = form(leaves);
        var gen = new Generator(77);
        var loss = (o * randn(o.shape, dtype: float64, generator: gen)).sum() + (s * randn(s.shape, dtype: float64, generator: gen)).sum();
        loss.backward();
        return new[] { o.detach(), s.detach() }.Concat(leaves.Select(l => l.grad!.detach().clone())).ToList();
    }

    static Tensor? State(Tensor[] x) => x.Length > 5 ? x[5] : null;

    static readonly string[] Names = ["output", "final state", "dq", "dk", "dv", "dg", "dβ", "dS₀"];

    [Theory]
    [InlineData(1, 4)]
    [InlineData(37, 1)]
    [InlineData(37, 3)]
    [InlineData(37, 16)]
    [InlineData(70, 64)]
    [InlineData(70, 8)]
    [InlineData(20, 64)]
    public void ChunkedEqualsRecurrentInValueAndGradients(int t, int chunk)
    {
        foreach (bool withState in new[] { true, false })
        foreach (double betaRange in new[] { 1.0, 2.0 })
        {
            var inputs = Inputs(t, seed: t * 100 + chunk, betaRange, withState);
            var expected = ValueAndGradients(x => GatedDeltaRule.Recurrent(x[0], x[1], x[2], x[3], x[4], State(x)), inputs);
            foreach (var inverse in new[] { UnitLowerInverse.Blockwise, UnitLowerInverse.TriangularSolve })
            {
                var forms = new (string, Form)[]
                {
                    ("chunked", x => GatedDeltaRule.Chunked(x[0], x[1], x[2], x[3], x[4], chunk, State(x), inverse: inverse)),
                    ("scan", x => GatedDeltaRule.ChunkedScan(x[0], x[1], x[2], x[3], x[4], chunk, State(x), inverse: inverse)),
                };
                foreach (var (name, form) in forms)
                {
                    var actual = ValueAndGradients(form, inputs);
                    for (int i = 0; i < expected.Count; i++)
                    {
                        double error = Compare.RelativeError(actual[i], expected[i]);
                        Assert.True(error < 1e-10, $"{name} {inverse} T={t} C={chunk} S₀={withState} β<{betaRange}: {Names[i]} error {error:E2}");
                    }
                }
            }
        }
    }

    /// <summary>Every group size of the chunk recurrence (groups with and without a ragged rest, the plain loop by
    /// request, by choice and for G above N) gives the recurrence's values and gradients.</summary>
    [Theory]
    [InlineData(37, 1, 2)]
    [InlineData(37, 1, 3)]
    [InlineData(37, 2, 4)]
    [InlineData(64, 2, 8)]
    [InlineData(70, 5, 3)]
    [InlineData(70, 8, 9)]
    [InlineData(20, 4, 1)]
    [InlineData(20, 4, 100)]
    public void GroupedChunkRecurrenceEqualsRecurrent(int t, int chunk, int group)
    {
        foreach (bool withState in new[] { true, false })
        {
            var inputs = Inputs(t, seed: t * 10 + chunk + group, betaRange: 2, withState);
            var expected = ValueAndGradients(x => GatedDeltaRule.Recurrent(x[0], x[1], x[2], x[3], x[4], State(x)), inputs);
            var actual = ValueAndGradients(x => GatedDeltaRule.Chunked(x[0], x[1], x[2], x[3], x[4], chunk, State(x), chunksPerGroup: group), inputs);
            for (int i = 0; i < expected.Count; i++)
            {
                double error = Compare.RelativeError(actual[i], expected[i]);
                Assert.True(error < 1e-10, $"T={t} C={chunk} G={group} S₀={withState}: {Names[i]} error {error:E2}");
            }
        }
    }

    [Fact]
    public void GroupSizeOnlyGroupsWhenItShortensTheLoop()
    {
        Assert.Equal(8, GatedDeltaRule.GroupSize(64, 8));                             // 7 + 8 + 7 = 22 steps < 64
        Assert.Equal(8, GatedDeltaRule.GroupSize(37, 8));                             // 7 + 4 + 7 + 5 = 23 < 37
        Assert.Equal(1, GatedDeltaRule.GroupSize(4, 8));                              // one group of 4: 3 + 1 + 3 > 4
        Assert.Equal(1, GatedDeltaRule.GroupSize(9, 8));
        Assert.Equal(1, GatedDeltaRule.GroupSize(64, 1));
        Assert.Equal(4, GatedDeltaRule.GroupSize(64, 4));
    }

    /// <summary>The recurrence written with explicit Dk×Dk matrices: S_t = α_t (I − β_t k_t k_tᵀ) S_{t−1} + β_t k_t v_tᵀ.</summary>
    [Fact]
    public void RecurrenceIsTheExplicitMatrixProduct()
    {
        var x = Inputs(6, seed: 3, betaRange: 2);
        var (q, k, v, g, beta, s0) = (x[0], x[1], x[2], x[3], x[4], x[5]);
        var s = s0;
        var rows = new List<Tensor>();
        var states = GatedDeltaRule.States(q, k, v, g, beta, s0);
        for (int t = 0; t < 6; t++)
        {
            var transition = g[.., .., t].exp().unsqueeze(-1).unsqueeze(-1) * Householder.Matrix(k[.., .., t], beta[.., .., t]);
            s = transition.matmul(s) + beta[.., .., t].unsqueeze(-1).unsqueeze(-1) * k[.., .., t].unsqueeze(-1) * v[.., .., t].unsqueeze(-2);
            rows.Add(s.transpose(-2, -1).matmul(q[.., .., t].unsqueeze(-1)).squeeze(-1) / Math.Sqrt(Dk));
            Assert.True(Compare.RelativeError(states[.., .., t], s) < 1e-13);
        }
        var (o, final) = GatedDeltaRule.Recurrent(q, k, v, g, beta, s0);
        Assert.True(Compare.RelativeError(o, stack(rows, 2)) < 1e-13);
        Assert.True(Compare.RelativeError(final, s) < 1e-13);
        Assert.Equal(new long[] { B, H, 6, Dk, Dv }, states.shape);
    }

    [Fact]
    public void StepByStepEqualsRecurrent()
    {
        var x = Inputs(9, seed: 4);
        var (o, final) = GatedDeltaRule.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5], scale: 0.7);
        var s = x[5];
        for (int t = 0; t < 9; t++)
        {
            var (row, next) = GatedDeltaRule.Step(s, x[0][.., .., t], x[1][.., .., t], x[2][.., .., t], x[3][.., .., t], x[4][.., .., t], scale: 0.7);
            Assert.True(Compare.RelativeError(row, o[.., .., t]) < 1e-13);
            s = next;
        }
        Assert.True(Compare.RelativeError(s, final) < 1e-13);
    }

    /// <summary>α = 1 is DeltaNet: S_t = S_{t−1} + β_t k_t (v_t − S_{t−1}ᵀ k_t)ᵀ.</summary>
    [Fact]
    public void NoDecayIsDeltaNet()
    {
        var x = Inputs(11, seed: 5);
        var zeroG = zeros_like(x[3]);
        var s = x[5];
        var rows = new List<Tensor>();
        for (int t = 0; t < 11; t++)
        {
            var kt = x[1][.., .., t];
            var error = x[2][.., .., t] - s.transpose(-2, -1).matmul(kt.unsqueeze(-1)).squeeze(-1);
            s = s + x[4][.., .., t].unsqueeze(-1).unsqueeze(-1) * kt.unsqueeze(-1) * error.unsqueeze(-2);
            rows.Add(s.transpose(-2, -1).matmul(x[0][.., .., t].unsqueeze(-1)).squeeze(-1) / Math.Sqrt(Dk));
        }
        var (o, final) = GatedDeltaRule.Chunked(x[0], x[1], x[2], zeroG, x[4], chunkSize: 4, initialState: x[5]);
        Assert.True(Compare.RelativeError(o, stack(rows, 2)) < 1e-12);
        Assert.True(Compare.RelativeError(final, s) < 1e-12);
    }

    /// <summary>β = 0 writes nothing: the state only decays, S_t = exp(Σ_{l≤t} g_l) S₀.</summary>
    [Fact]
    public void ZeroBetaOnlyDecays()
    {
        var x = Inputs(13, seed: 6);
        var decay = x[3].cumsum(-1).exp();                                             // [B, H, T]
        var (o, final) = GatedDeltaRule.Chunked(x[0], x[1], x[2], x[3], zeros_like(x[4]), chunkSize: 5, initialState: x[5]);
        var expected = decay.unsqueeze(-1) * x[0].matmul(x[5]) / Math.Sqrt(Dk);
        Assert.True(Compare.RelativeError(o, expected) < 1e-12);
        Assert.True(Compare.RelativeError(final, decay[.., .., -1].unsqueeze(-1).unsqueeze(-1) * x[5]) < 1e-12);
    }

    /// <summary>bfloat16 inputs: computed in float32, output back in bfloat16, state in float32, close to float64.</summary>
    [Fact]
    public void HalfPrecisionIsComputedInFloat32()
    {
        var x = Inputs(70, seed: 7);
        var (expected, expectedState) = GatedDeltaRule.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5]);
        var (o, s) = GatedDeltaRule.Chunked(x[0].to(bfloat16), x[1].to(bfloat16), x[2].to(bfloat16), x[3].to(float32), x[4].to(float32),
            chunkSize: 16, initialState: x[5].to(float32));
        Assert.Equal(ScalarType.BFloat16, o.dtype);
        Assert.Equal(ScalarType.Float32, s.dtype);
        Assert.True(Compare.RelativeError(o, expected) < 2e-2, $"{Compare.RelativeError(o, expected)}");
        Assert.True(Compare.RelativeError(s, expectedState) < 2e-2);
        var (o32, _) = GatedDeltaRule.Chunked(x[0].to(float32), x[1].to(float32), x[2].to(float32), x[3].to(float32), x[4].to(float32),
            chunkSize: 16, initialState: x[5].to(float32));
        Assert.True(Compare.RelativeError(o32, expected) < 1e-5);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var x = Inputs(4, seed: 8);
        var (q, k, v, g, beta) = (x[0], x[1], x[2], x[3], x[4]);
        ArgumentException Bad(Action a) => Assert.ThrowsAny<ArgumentException>(a);
        Assert.Equal("q", Bad(() => GatedDeltaRule.Chunked(q[0], k, v, g, beta)).ParamName);
        var e = Bad(() => GatedDeltaRule.Chunked(q, k[.., .., ..3], v, g, beta));
        Assert.Equal("k", e.ParamName);
        Assert.Contains("[B, H, T, Dk]", e.Message);
        Assert.Equal("v", Bad(() => GatedDeltaRule.Recurrent(q, k, v[.., ..1], g, beta)).ParamName);
        Assert.Equal("logDecay", Bad(() => GatedDeltaRule.Chunked(q, k, v, g.unsqueeze(-1), beta)).ParamName);
        Assert.Equal("beta", Bad(() => GatedDeltaRule.Chunked(q, k, v, g, beta[.., .., ..2])).ParamName);
        Assert.Equal("initialState", Bad(() => GatedDeltaRule.Chunked(q, k, v, g, beta, initialState: zeros(B, H, Dv, Dk, dtype: float64))).ParamName);
        Assert.Equal("chunkSize", Bad(() => GatedDeltaRule.Chunked(q, k, v, g, beta, chunkSize: 0)).ParamName);
        Assert.Equal("chunksPerGroup", Bad(() => GatedDeltaRule.Chunked(q, k, v, g, beta, chunksPerGroup: 0)).ParamName);
        Assert.Equal("q", Bad(() => GatedDeltaRule.Chunked(q.to(int64), k, v, g, beta)).ParamName);
        Assert.Equal("v", Bad(() => GatedDeltaRule.Step(x[5], q[.., .., 0], k[.., .., 0], v[.., .., 0, ..2], g[.., .., 0], beta[.., .., 0])).ParamName);
        Assert.Equal("state", Bad(() => GatedDeltaRule.Step(x[5][0], q[.., .., 0], k[.., .., 0], v[.., .., 0], g[.., .., 0], beta[.., .., 0])).ParamName);
    }

    static readonly string[] GradientNames = ["dq", "dk", "dv", "dg", "dβ", "dS₀"];

    /// <summary>The hand-written chunked backward (the fused CUDA backward's algorithm) against autograd through the
    /// recurrence.</summary>
    [Theory]
    [InlineData(1, 4, true, true)]
    [InlineData(37, 1, false, false)]
    [InlineData(37, 16, true, false)]
    [InlineData(37, 16, false, true)]
    [InlineData(64, 16, true, true)]
    [InlineData(70, 64, true, true)]
    [InlineData(20, 64, false, false)]
    public void HandWrittenGradientsEqualAutogradThroughTheRecurrence(int t, int chunk, bool withState, bool withFinalGradient)
    {
        var gen = new Generator((ulong)(t * 31 + chunk));
        Tensor R(params long[] shape) => randn(shape, dtype: float64, generator: gen);
        var q = F.normalize(R(B, H, t, Dk), p: 2, dim: -1).requires_grad_(true);
        var k = F.normalize(R(B, H, t, Dk), p: 2, dim: -1).detach().requires_grad_(true);
        var v = R(B, H, t, Dv).requires_grad_(true);
        var g = F.logsigmoid(R(B, H, t) + 2).detach().requires_grad_(true);
        var beta = (2 * R(B, H, t).sigmoid()).detach().requires_grad_(true);         // the negative-eigenvalue range too
        var s0 = (0.5 * R(B, H, Dk, Dv)).requires_grad_(true);
        q = q.detach().requires_grad_(true);
        var dO = R(B, H, t, Dv);
        var dST = R(B, H, Dk, Dv);

        var (o, sT) = GatedDeltaRule.Recurrent(q, k, v, g, beta, withState ? s0 : null);
        var loss = (o * dO).sum() + (withFinalGradient ? (sT * dST).sum() : zeros(1, dtype: float64).sum());
        loss.backward();
        var expected = new[] { q.grad!, k.grad!, v.grad!, g.grad!, beta.grad!, withState ? s0.grad! : null };

        var actual = GatedDeltaRuleGradients.Chunked(q.detach(), k.detach(), v.detach(), g.detach(), beta.detach(), dO, chunk,
            withState ? s0.detach() : null, withFinalGradient ? dST : null);
        var got = new[] { actual.Dq, actual.Dk, actual.Dv, actual.DlogDecay, actual.Dbeta, actual.DinitialState };
        for (int i = 0; i < got.Length; i++)
        {
            if (expected[i] is null) continue;
            double error = Compare.RelativeError(got[i], expected[i]!);
            Assert.True(error < 1e-10, $"T={t} C={chunk} S₀={withState} dS_T={withFinalGradient}: {GradientNames[i]} error {error:E2}");
        }
    }
}
