using PathNotebooks.Models;
using PathNotebooks.PositionalVectors;
using static TorchSharp.torch;

namespace PathNotebooks.Tests.PositionalVectors;

[Collection("torch")]
public class PositionalDiagnosticsTests
{
    static CausalLM Model(PositionEncoding encoding = PositionEncoding.RoPE) => CausalLM.Seeded(
        new ModelConfig { VocabSize = 32, DModel = 16, Layers = 2, Heads = 2, Mixers = PositionEncodings.Spec(encoding) }, 5, CPU);

    static Tensor Tokens(int n, int t) => randint(0, 32, new long[] { n, t }, generator: new Generator(9)).to(ScalarType.Int64);

    [Fact]
    public void LayerSharesSplitTheVarianceExactly()
    {
        using var model = Model();
        model.eval();
        var tokens = Tokens(12, 10);
        using var d = PositionalVectorExtractor.Collect(model, tokens, 4);
        var table = PositionalDiagnostics.LayerShares(model, tokens, d, 5);
        Assert.Equal(3, table.Rows.Count);
        for (int l = 0; l < 3; l++)
        {
            double share = (double)table["position_share"][l];
            Assert.InRange(share, 0, 1);
            // Recompute by hand: N·Σ‖m‖² / Σ‖h − u‖² from the hidden states themselves.
            var hidden = new List<Tensor>();
            using (no_grad()) model.Forward(tokens, (layer, h) => { if (layer == l) hidden.Add(h.detach().to(ScalarType.Float64).clone().DetachFromDisposeScope()); return h; });
            var h = hidden[0];
            var u = d.Mean[l].to(ScalarType.Float64);
            double total = (h - u).square().sum().item<double>();
            double positional = 12 * d.Basis[l].to(ScalarType.Float64).square().sum().item<double>();
            Assert.Equal(positional / total, share, 6);
        }
    }

    [Fact]
    public void NoPEEmbeddingsOfConstantSequencesHaveNoPositionalShare()
    {
        // Sequence s repeats token s: NoPE's embedding output is E[s] at every position, so p[0, t] does not depend on t.
        using var model = Model(PositionEncoding.NoPE);
        model.eval();
        var tokens = arange(8, ScalarType.Int64).unsqueeze(1).expand(8, 6).contiguous();
        using var d = PositionalVectorExtractor.Collect(model, tokens, 4);
        var table = PositionalDiagnostics.LayerShares(model, tokens, d);
        Assert.True((double)table["position_share"][0] < 1e-10);
        Assert.True((double)table["hidden_norm"][0] > 0);
    }

    [Fact]
    public void RemovePositionalEditsOneTokenAtOneLayer()
    {
        var p = arange(2 * 4 * 3, ScalarType.Float64).view(2, 4, 3);
        using var d = new PositionalDecomposition(p, 10);
        var hook = PositionalDiagnostics.RemovePositional(d, position: 2, atLayer: 1);
        var h = ones(new long[] { 5, 4, 3 }, ScalarType.Float64);
        Assert.True(hook(0, h).eq(h).all().item<bool>());
        var edited = hook(1, h);
        Assert.True(edited[.., 2].allclose(h[.., 2] - p[1, 2]));
        Assert.True(edited[.., 0].allclose(h[.., 0]) && edited[.., 3].allclose(h[.., 3]));
        Assert.Throws<ArgumentOutOfRangeException>("position", () => PositionalDiagnostics.RemovePositional(d, 4, 1));
    }

    [Fact]
    public void AnchorAblationOfNothingChangesNothingAndAnEditChangesLaterLayers()
    {
        using var model = Model();
        model.eval();
        var tokens = Tokens(8, 10);
        using var d = PositionalVectorExtractor.Collect(model, tokens, 4);
        using var same = PositionalDiagnostics.Collect(model, tokens, null, 4);
        Assert.True(Compare.RelativeError(same.P, d.P) < 1e-12);
        var table = PositionalDiagnostics.AnchorAblation(model, tokens, d, position: 0, from: 1, atLayer: 0);
        Assert.Equal(new[] { 1, 2 }, Enumerable.Range(0, 2).Select(i => (int)table["layer"][i]));
        Assert.All(Enumerable.Range(0, 2), i => Assert.InRange((double)table["cos_to_original"][i], -1, 1 + 1e-9));
        Assert.True((double)table["cos_to_original"][0] < 1 - 1e-6, "removing token 0's vector at the embeddings changes what later positions read");
    }

    [Fact]
    public void DriftFloorRanksCopiesAboveTheFloor()
    {
        using var model = Model();
        model.eval();
        var tokens = Tokens(16, 12);
        var f = PositionalDiagnostics.DriftWithFloor(model, tokens, window: 4, layer: 2, permutationSeed: 1, batchSize: 8);
        Assert.Equal(12, f.CrossMaxCos.Length);
        Assert.Equal(12, f.FloorMaxCos.Length);
        Assert.All(f.CrossMaxCos.Concat(f.FloorMaxCos), c => Assert.InRange(c, -1 - 1e-9, 1 + 1e-9));
        Assert.Equal(f.CrossMaxCos.Skip(8).Average(), f.Far, 12);
        Assert.Equal((f.Far - f.Floor) / (f.CopyLevel - f.Floor), f.Relative, 9);
        var again = PositionalDiagnostics.DriftWithFloor(model, tokens, 4, 2, permutationSeed: 1, batchSize: 8);
        Assert.Equal(f.FloorMaxCos, again.FloorMaxCos);
        Assert.Throws<ArgumentException>("sequences", () => PositionalDiagnostics.DriftWithFloor(model, Tokens(3, 12), 4, 2));
    }

    [Fact]
    public void ScaledMatchFindsAStretchedCopy()
    {
        // Probe = the reference's in-window vectors stretched by r = 2: position t holds in-window vector ⌊t/2⌋.
        var gen = new Generator(3);
        var inWindow = randn(new long[] { 1, 6, 5 }, ScalarType.Float64, generator: gen);
        var reference = new PositionalDecomposition(cat(new[] { inWindow, randn(new long[] { 1, 6, 5 }, ScalarType.Float64, generator: gen) }, 1), 10);
        var index = tensor(Enumerable.Range(0, 12).Select(t => (long)(t / 2)).ToArray());
        var probe = new PositionalDecomposition(inWindow.index_select(1, index), 10);
        var table = PositionalDiagnostics.ScaledMatch(reference, probe, window: 6, layer: 0, ratio: 2);
        Assert.Equal(12, table.Rows.Count);
        Assert.All(Enumerable.Range(0, 12), t => Assert.Equal(1.0, (double)table["cos_at_t_over_r"][t], 9));
        Assert.All(Enumerable.Range(0, 12), t => Assert.Equal(t / 2, (int)table["nearest_position"][t]));
    }
}
