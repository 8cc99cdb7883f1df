using PathNotebooks.DeltaNet;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.DeltaNet;

/// <summary>The hand-written chunked backward (the fused CUDA backward's algorithm) against autograd through the float64
/// token recurrence.</summary>
[Collection("torch")]
public class GatedDeltaRuleGradientsTests
{
    const long B = 2, H = 2, Dk = 5, Dv = 3;

    static readonly string[] Names = ["dq", "dk", "dv", "dg", "dβ", "dS₀"];

    [Theory]
    [InlineData(1, 4, true, true)]
    [InlineData(37, 1, false, false)]
    [InlineData(37, 16, true, false)]
    [InlineData(37, 16, false, true)]
    [InlineData(64, 16, true, true)]
    [InlineData(70, 64, true, true)]
    [InlineData(20, 64, false, false)]
    public void EqualsAutogradThroughTheRecurrence(int t, int chunk, bool withState, bool withFinalGradient)
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
            Assert.True(error < 1e-10, $"T={t} C={chunk} S₀={withState} dS_T={withFinalGradient}: {Names[i]} error {error:E2}");
        }
    }
}
