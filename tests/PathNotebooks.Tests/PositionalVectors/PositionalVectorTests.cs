using PathNotebooks.Softmax;
using PathNotebooks.Models;
using PathNotebooks.PositionalVectors;

namespace PathNotebooks.Tests.PositionalVectors;

[Collection("torch")]
public class PositionalVectorTests
{
    static CausalLM TinyNoPE(int? window = null, int seed = 5)
    {
        torch.manual_seed(seed);
        var model = new CausalLM(new ModelConfig { VocabSize = 13, DModel = 16, Heads = 2, Layers = 2, Mixers = new SoftmaxAttentionSpec { Position = AttentionPosition.NoPE, Window = window }, InitStd = 0.3 });
        model.eval();
        return model;
    }

    /// <summary>Hidden states = planted positional component [L+1, T, D] + zero-mean noise, fed in batches of 32.</summary>
    static double RecoveryError(Tensor planted, int samples, Generator g)
    {
        using var extractor = new PositionalVectorExtractor((int)planted.shape[0], (int)planted.shape[1], (int)planted.shape[2]);
        for (int done = 0; done < samples; done += 32)
            for (int l = 0; l < planted.shape[0]; l++)
                extractor.Add(l, planted[l] + randn(new long[] { 32, planted.shape[1], planted.shape[2] }, ScalarType.Float64, generator: g));
        using var result = extractor.Result();
        Assert.Equal(samples, result.Samples);
        return Compare.RelativeError(result.P, planted);
    }

    [Fact]
    public void DecompositionRecoversPlantedPositionalComponent()
    {
        var g = new Generator(21);
        var planted = randn(new long[] { 3, 12, 8 }, ScalarType.Float64, generator: g);
        double small = RecoveryError(planted, 64, g), large = RecoveryError(planted, 4096, g);
        Assert.True(large < 0.03, $"relative error {large} at N = 4096");
        Assert.True(large < small / 4, $"error should shrink like 1/√N: {small} → {large}");   // expected ratio 8
    }

    [Fact]
    public void StreamingMeanEqualsBatchMeanAndBasisIsCentred()
    {
        var g = new Generator(3);
        var hidden = randn(new long[] { 2, 37, 9, 5 }, ScalarType.Float64, generator: g);   // [L+1, N, T, D]
        using var extractor = new PositionalVectorExtractor(2, 9, 5);
        foreach (var (s, e) in new[] { (0, 5), (5, 18), (18, 37) })
            for (int l = 0; l < 2; l++) extractor.Add(l, hidden[l, s..e]);
        using var result = extractor.Result();
        var expected = hidden.mean(new long[] { 1 });
        Assert.True(Compare.RelativeError(result.P, expected) < 1e-14);
        Assert.True(Compare.RelativeError(result.Mean, expected.mean(new long[] { 1 })) < 1e-14);
        Assert.True(result.Basis.sum(1).abs().max().item<double>() < 1e-12);
        Assert.True(Compare.RelativeError(result.Semantic(1, hidden[1]), hidden[1] - expected[1]) < 1e-14);
        // float32 accumulators agree to float32 precision.
        using var f32 = new PositionalVectorExtractor(2, 9, 5, ScalarType.Float32);
        for (int l = 0; l < 2; l++) f32.Add(l, hidden[l].to(ScalarType.Float32));
        Assert.True(Compare.RelativeError(f32.Result().P, expected) < 1e-6);
    }

    [Fact]
    public void CollectFromModelMatchesHookedHiddenStates()
    {
        var model = TinyNoPE();
        var tokens = randint(0, 13, new long[] { 10, 7 }, generator: new Generator(2));
        var states = new List<Tensor>();
        using (no_grad()) model.Forward(tokens, (l, h) => { states.Add(h.clone().DetachFromDisposeScope()); return h; });
        using var result = PositionalVectorExtractor.Collect(model, tokens, batchSize: 3);
        Assert.Equal(new long[] { 3, 7, 16 }, result.P.shape);
        Assert.True(Compare.RelativeError(result.P, stack(states).mean(new long[] { 1 })) < 1e-6);
    }

    [Fact]
    public void InterpolationKeepsAnchorsAndIsIdentityAtRatioOne()
    {
        var g = new Generator(8);
        var p = randn(new long[] { 10, 4 }, ScalarType.Float64, generator: g);
        Assert.True(PositionalVectorReplacement.Interpolate(p, 10, 1.0).SameAs(p));
        var stretched = PositionalVectorReplacement.Interpolate(p, 40, 4.0, keepFirst: 4);
        Assert.Equal(new long[] { 40, 4 }, stretched.shape);
        Assert.True(stretched[..4].SameAs(p[..4]));
        // A linear ramp p_t = t·v interpolates exactly: p̂_t = (k + (t − k)/r)·v, clamped at C − 1.
        var v = randn(new long[] { 1, 4 }, ScalarType.Float64, generator: g);
        var ramp = arange(10, ScalarType.Float64).unsqueeze(1) * v;
        var hat = PositionalVectorReplacement.Interpolate(ramp, 40, 4.0, keepFirst: 2);
        var t = arange(40, ScalarType.Float64);
        var where_ = torch.where(t < 2, t, (2 + (t - 2) / 4).clamp(max: 9)).unsqueeze(1) * v;
        Assert.True(Compare.RelativeError(hat, where_) < 1e-14);
        var plain = PositionalVectorReplacement.Interpolate(ramp, 20, 2.0, keepFirst: 0, fromAnchors: false);
        Assert.True(Compare.RelativeError(plain, (arange(20, ScalarType.Float64) / 2).clamp(max: 9).unsqueeze(1) * v) < 1e-14);
    }

    [Fact]
    public void ReplacementLeavesAnchorsAndIsIdentityWithOwnVectors()
    {
        var g = new Generator(9);
        var h = randn(new long[] { 3, 8, 4 }, ScalarType.Float64, generator: g);
        var current = randn(new long[] { 8, 4 }, ScalarType.Float64, generator: g);
        var other = randn(new long[] { 8, 4 }, ScalarType.Float64, generator: g);
        Assert.True(PositionalVectorReplacement.Replace(h, current, current, 1.0).SameAs(h));
        var replaced = PositionalVectorReplacement.Replace(h, current, other, 1.3, keepFirst: 4);
        Assert.True(replaced[.., ..4].SameAs(h[.., ..4]));
        Assert.True(Compare.RelativeError(replaced[.., 4..], h[.., 4..] - current[4..] + 1.3 * other[4..]) < 1e-15);

        // In a model: with stored vectors, r = 1 and α = 1 change nothing.
        var model = TinyNoPE();
        var tokens = randint(0, 13, new long[] { 6, 9 }, generator: new Generator(4));
        using var pv = PositionalVectorExtractor.Collect(model, tokens);
        var plainLogits = model.forward(tokens);
        var same = model.Forward(tokens, PositionalVectorReplacement.Hook(pv, layer: 1, ratio: 1, alpha: 1, longVectors: pv.P[1].to(ScalarType.Float32)));
        Assert.True(Compare.RelativeError(same, plainLogits) < 1e-6);
        // With the batch-mean estimate on the same batch, p = batch mean exactly, so also nothing changes.
        var batchMean = model.Forward(tokens, PositionalVectorReplacement.Hook(pv, layer: 1, ratio: 1, alpha: 1));
        Assert.True(Compare.RelativeError(batchMean, plainLogits) < 1e-5);
        // A real stretch changes outputs only at t ≥ k.
        var stretched = model.Forward(tokens, PositionalVectorReplacement.Hook(pv, layer: 1, ratio: 2, alpha: 1.3, keepFirst: 4));
        Assert.True(Compare.RelativeError(stretched[.., ..4], plainLogits[.., ..4]) < 1e-6);
        Assert.True(Compare.RelativeError(stretched[.., 4..], plainLogits[.., 4..]) > 1e-3);
        // The batch-mean hook needs ≥ 2 sequences.
        Assert.Throws<InvalidOperationException>(() => model.Forward(tokens[..1], PositionalVectorReplacement.Hook(pv, 1, 2.0)));
    }

    [Fact]
    public void WindowExtensionWithUnitSettingsChangesNothingAndRestores()
    {
        var model = TinyNoPE(window: 3);
        var tokens = randint(0, 13, new long[] { 2, 12 }, generator: new Generator(6));
        var before = model.forward(tokens);
        using (AttentionWindowExtension.Apply(model, ratio: 1, logitScale: 1))
            Assert.True(model.forward(tokens).SameAs(before));
        var layer = (SoftmaxAttention)model.Blocks[0].Mixer;
        using (AttentionWindowExtension.Apply(model, ratio: 2, logitScale: 1.5))
        {
            Assert.Equal(6, layer.Window);
            Assert.Equal(1.5, layer.LogitScale);
            Assert.True(Compare.RelativeError(model.forward(tokens), before) > 1e-4);
        }
        Assert.Null(layer.Window);
        Assert.Equal(1.0, layer.LogitScale);
        Assert.True(model.forward(tokens).SameAs(before));
        // Full attention keeps no window: only λ acts (attention scaling).
        var full = TinyNoPE();
        using (AttentionWindowExtension.Apply(full, 4, 1.2))
            Assert.Null(((SoftmaxAttention)full.Blocks[1].Mixer).Window);
        Assert.Equal("ratio", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionWindowExtension.Apply(model, 0, 1)).ParamName);
    }

    [Fact]
    public void PcaAndCosineOnKnownInputs()
    {
        // Points on a line x_t = t·v + c: one component explains everything, scores are ±(t − mean)·‖v‖.
        var v = tensor(new double[] { 3, 0, 4 });
        var c = tensor(new double[] { 1, 2, 3 });
        var t = arange(6, ScalarType.Float64);
        var line = t.unsqueeze(1) * v + c;
        var (scores, ratio) = PositionalAnalysis.Pca(line, 2);
        Assert.Equal(new long[] { 6, 2 }, scores.shape);
        Assert.True(Math.Abs(ratio[0].item<double>() - 1) < 1e-12);
        Assert.True(Compare.RelativeError(scores[.., 0].abs(), ((t - 2.5) * 5).abs()) < 1e-12);
        // Orthogonal directions of different spread: pc1 along the wide one, variance ratio 9 : 1.
        var plane = stack(new[] { tensor(new double[] { 3, 0 }), tensor(new double[] { -3, 0 }), tensor(new double[] { 0, 1 }), tensor(new double[] { 0, -1 }) });
        var (s2, r2) = PositionalAnalysis.Pca(plane, 2);
        Assert.True(Compare.RelativeError(r2, tensor(new double[] { 0.9, 0.1 })) < 1e-12);
        Assert.True(Compare.RelativeError(s2.abs(), plane.abs()) < 1e-12);

        var cos = PositionalAnalysis.CosineSimilarity(tensor(new double[,] { { 1, 0 }, { 0, 2 }, { 1, 1 } }));
        var r = Math.Sqrt(0.5);
        Assert.True(Compare.RelativeError(cos, tensor(new double[,] { { 1, 0, r }, { 0, 1, r }, { r, r, 1 } })) < 1e-12);
    }

    [Fact]
    public void PcaTableAndDriftTables()
    {
        var g = new Generator(12);
        var inWindow = randn(new long[] { 2, 6, 5 }, ScalarType.Float64, generator: g);
        // Beyond C = 6: positions 6…8 repeat positions 1, 3, 5 (scaled ×2); position 9 is brand new.
        var beyond = cat(new[] { 2 * inWindow.index_select(1, tensor(new long[] { 1, 3, 5 })), randn(new long[] { 2, 1, 5 }, ScalarType.Float64, generator: g) }, 1);
        using var pv = new PositionalDecomposition(cat(new[] { inWindow, beyond }, 1), 100);
        var drift = PositionalAnalysis.Drift(pv, window: 6, centre: false);
        Assert.Equal(2 * 10, drift.Rows.Count);
        var rows = drift.Rows.Where(row => (int)row["layer"] == 1).ToList();
        Assert.Equal(3, (int)rows[7]["nearest_position"]);
        Assert.True(Math.Abs((double)rows[7]["max_cos"] - 1) < 1e-12);
        Assert.True((double)rows[2]["max_cos"] < 0.999);                          // in-window: matched against s ≠ t
        Assert.NotEqual(2, (int)rows[2]["nearest_position"]);
        Assert.True((double)rows[9]["max_cos"] < 0.999);

        var basisCos = PositionalAnalysis.CosineSimilarity(pv, 1);
        Assert.True(Compare.RelativeError(basisCos, PositionalAnalysis.CosineSimilarity(pv.P[1] - pv.P[1].mean(new long[] { 0 }))) < 1e-12);
        Assert.Equal(new long[] { 10, 10 }, basisCos.shape);

        var table = PositionalAnalysis.PcaTable(pv, new[] { 0, 1 });
        Assert.Equal(new[] { "layer", "position", "pc1", "pc2", "explained1", "explained2" }, table.Columns.Select(col => col.Name));
        Assert.Equal(20, table.Rows.Count);
        Assert.Equal("layers", Assert.Throws<ArgumentOutOfRangeException>(() => PositionalAnalysis.PcaTable(pv, new[] { 2 })).ParamName);
    }

    [Fact]
    public void AttentionProfileAndRemovalAblation()
    {
        var model = TinyNoPE();
        var tokens = randint(0, 13, new long[] { 4, 16 }, generator: new Generator(10));
        using var pv = PositionalVectorExtractor.Collect(model, tokens);
        var plain = PositionalAnalysis.AttentionProfile(model, tokens, firstK: 2);
        Assert.Equal(2, plain.Sinks.Rows.Count);
        foreach (var row in plain.Sinks.Rows)
        {
            double s0 = (double)row["sink_first"], sk = (double)row["sink_first_k"];
            Assert.InRange(s0, 0, 1);
            Assert.True(sk >= s0 && sk <= 1 + 1e-12);
            Assert.True((double)row["sink_first_max_head"] >= s0 - 1e-12);
        }
        // Distance buckets [0,0], [1,1], [2,3], [4,7], [8,13] for T − k = 14.
        var layer1 = plain.Decay.Rows.Where(r => (int)r["layer"] == 1).ToList();
        Assert.Equal(new[] { 0, 1, 2, 4, 8 }, layer1.Select(r => (int)r["distance_lo"]));
        Assert.Equal(13, (int)layer1[^1]["distance_hi"]);
        // Distance 0 at query t: 1/(t+1) for uniform attention; here just a probability.
        Assert.All(layer1, r => Assert.InRange((double)r["attention"], 0, 1));
        Assert.False(model.Blocks[0].Mixer.CaptureAttention);                  // capture restored

        var effects = PositionalAnalysis.AttentionEffects(model, tokens, pv, firstK: 2, atLayer: 1);
        Assert.Equal(4 * 2, effects.Sinks.Rows.Count);
        var none = effects.Sinks.Rows.Where(r => (string)r["condition"] == "None").ToList();
        Assert.Equal((double)plain.Sinks.Rows[1]["sink_first"], (double)none[1]["sink_first"], 12);
        // Layer 1's attention runs before the edit (after layer 1), so only layer 2 can change.
        var removed = effects.Sinks.Rows.Where(r => (string)r["condition"] == "PositionalVector").ToList();
        Assert.Equal((double)none[0]["sink_first"], (double)removed[0]["sink_first"], 12);
        Assert.NotEqual((double)none[1]["sink_first"], (double)removed[1]["sink_first"], 6);
    }

    [Fact]
    public void PerplexityEvaluatorMatchesFullSequenceLoss()
    {
        var model = TinyNoPE();
        var sequences = randint(0, 13, new long[] { 5, 17 }, generator: new Generator(13));
        var result = PerplexityEvaluator.Evaluate(model, sequences, trainLength: 4, batchSize: 2, bucketSize: 4);
        var expected = PathNotebooks.Training.Trainer.PerTokenLoss(model, sequences[.., ..16], sequences[.., 1..]);
        Assert.Equal(16, result.LossPerPosition.Length);
        Assert.True(Math.Abs(result.PplAt(16) - Math.Exp(expected.mean().item<float>())) < 1e-4 * result.PplAt(16));
        Assert.True(Math.Abs(result.PplAtC - Math.Exp(expected[.., ..4].mean().item<float>())) < 1e-4 * result.PplAtC);
        Assert.Equal(result.PplAt(16), result.PplAt4C);
        Assert.True(double.IsNaN(result.PplAt(17)));
        Assert.Equal(4, result.ByPosition.Rows.Count);                             // 16 positions in buckets of 4
        Assert.Equal("sequences", Assert.Throws<ArgumentException>(() => PerplexityEvaluator.Evaluate(model, sequences.to(ScalarType.Float32), 4)).ParamName);
    }

    [Fact]
    public void BadInputsNameTheArgumentAndShape()
    {
        using var extractor = new PositionalVectorExtractor(2, 5, 4);
        var e = Assert.Throws<ArgumentException>(() => extractor.Add(0, zeros(3, 6, 4)));
        Assert.Equal("hidden", e.ParamName);
        Assert.Contains("[B, T, D]", e.Message);
        Assert.Equal("layer", Assert.Throws<ArgumentOutOfRangeException>(() => extractor.Add(2, zeros(3, 5, 4))).ParamName);
        Assert.Throws<InvalidOperationException>(() => extractor.Result());
        Assert.Equal("vectors", Assert.Throws<ArgumentException>(() => PositionalAnalysis.Pca(zeros(2, 3, 4))).ParamName);
        Assert.Equal("components", Assert.Throws<ArgumentOutOfRangeException>(() => PositionalAnalysis.Pca(zeros(3, 2), 3)).ParamName);
        Assert.Equal("inWindow", Assert.Throws<ArgumentException>(() => PositionalVectorReplacement.Interpolate(zeros(4), 8, 2)).ParamName);
        Assert.Equal("ratio", Assert.Throws<ArgumentOutOfRangeException>(() => PositionalVectorReplacement.Interpolate(zeros(8, 2), 8, 0)).ParamName);
        var r = Assert.Throws<ArgumentException>(() => PositionalVectorReplacement.Replace(zeros(1, 5, 4), zeros(4, 4), zeros(5, 4)));
        Assert.Equal("current", r.ParamName);
        Assert.Contains("[T, D]", r.Message);
        using var pv = new PositionalDecomposition(zeros(2, 5, 4), 1);
        Assert.Equal("hidden", Assert.Throws<ArgumentException>(() => pv.Semantic(0, zeros(1, 6, 4))).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => PositionalAnalysis.Drift(pv, 5)).ParamName);
    }
}

internal static class TensorEquality
{
    /// <summary>Same shape and bitwise-equal values (torch.equal).</summary>
    public static bool SameAs(this Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a == b).all().item<bool>();
}
