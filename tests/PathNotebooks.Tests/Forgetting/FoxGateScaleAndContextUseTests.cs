using PathNotebooks.Data;
using PathNotebooks.Experiments;
using PathNotebooks.Forgetting;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.Forgetting;

/// <summary>FoX with the gate sum scaled by 1/√d, the context-use measurements and the multi-seed experiment of notebook 04.</summary>
[Collection("torch")]
public class FoxGateScaleAndContextUseTests
{
    static readonly MixerDimensions Dimensions = new(16, 2);                               // head dimension 8

    static ForgettingAttention Layer(bool scaled, int seed)
    {
        manual_seed(seed);
        var layer = new ForgettingAttention(new FoxSpec { ScaleGateByInverseSqrtHeadDim = scaled }, Dimensions);
        layer.InitializeWeights(0.4);
        layer.to(float64);
        layer.eval();
        return layer;
    }

    [Fact]
    public void ScaledGateIsTheExplicitFormulaWithDOverSqrtD()
    {
        var plain = Layer(scaled: false, seed: 11);
        var scaled = Layer(scaled: true, seed: 11);                                        // same weights: the switch adds none
        manual_seed(12);
        var x = randn(2, 10, 16, dtype: float64);
        plain.CaptureAttention = true;
        plain.forward(x);
        var p0 = plain.LastAttention!;                                                     // softmax(A + D)
        var rawLogF = plain.LastLogForget!.to(float64);
        var fast = scaled.forward(x);
        Assert.True(Compare.RelativeError(scaled.LastLogForget!, rawLogF / Math.Sqrt(8)) < 1e-6);   // stored in float32
        scaled.CaptureAttention = true;
        var explicitPath = scaled.forward(x);
        Assert.True(Compare.RelativeError(fast, explicitPath) < 1e-12);                    // kernel = explicit formula
        var p1 = scaled.LastAttention!;                                                    // softmax(A + D/√d)

        // log p1 − log p0 = (1/√d − 1)·D + a per-row constant, on and below the diagonal.
        var d = ForgetGate.DecayBias(rawLogF);
        var lower = ones(10, 10, dtype: ScalarType.Bool).tril();
        var r = (p1.log() - p0.log() - (1 / Math.Sqrt(8) - 1) * d).masked_fill(lower.logical_not(), 0);
        var rowConstant = r[.., .., .., 0..1];
        Assert.True((r - rowConstant).masked_fill(lower.logical_not(), 0).abs().max().item<double>() < 1e-9);
        Assert.True((p1 - p0).abs().max().item<double>() > 1e-3);                          // and the scaling changes something

        // Decoding step by step gives the same outputs.
        scaled.CaptureAttention = false;
        using var state = scaled.NewState(2);
        var rows = Enumerable.Range(0, 10).Select(t => scaled.Step(x[.., t], state)).ToArray();
        Assert.True(Compare.RelativeError(stack(rows, 1), fast) < 1e-10);
    }

    [Fact]
    public void VariantsNameTheControlAndRejectItOffFox()
    {
        Assert.Equal("FoX (gate/√d)", new FoxVariant(PositionEncoding.FoX, GateOverSqrtHeadDim: true).Name);
        Assert.Equal("FoX", new FoxSpec().Name);
        Assert.Equal("PaTH-FoX", ((FoxVariant)PositionEncoding.PaTHFoX).Name);
        Assert.Throws<ArgumentException>(() => new FoxVariant(PositionEncoding.PaTH, GateOverSqrtHeadDim: true).Spec);
        Assert.Throws<ArgumentException>(() => (FoxExperimentSettings.Tiny with { Models = new[] { new FoxVariant(PositionEncoding.RoPE, true) } }).Validate());
        Assert.Equal(new[] { "RoPE", "FoX", "FoX (gate/√d)", "PaTH", "PaTH-FoX" }, FoxExperimentSettings.Tiny.Models.Select(m => m.Name));
        Assert.Equal(1, FoxExperimentSettings.Tiny.Seeds);
        Assert.Equal(3, FoxExperimentSettings.Full.Seeds);
        Assert.Throws<ArgumentOutOfRangeException>("Seeds", () => (FoxExperimentSettings.Tiny with { Seeds = 0 }).Validate());
    }

    [Fact]
    public void DistanceByQueryIsTheMeanOfIMinusJ()
    {
        var t = 6;
        var uniform = ones(t, t, dtype: float64).tril();
        uniform = (uniform / uniform.sum(-1, keepdim: true)).view(1, 1, t, t);
        var first = zeros(1, 1, t, t, dtype: float64);
        first[.., .., .., 0] = tensor(1.0);
        var du = ContextUse.DistanceByQuery(uniform)[0, 0].data<double>().ToArray();
        var df = ContextUse.DistanceByQuery(first)[0, 0].data<double>().ToArray();
        for (int i = 0; i < t; i++) { Assert.Equal(i / 2.0, du[i], 12); Assert.Equal(i, df[i], 12); }
        Assert.Equal(Enumerable.Range(2, 2).Average(i => i / 2.0), ContextUse.UniformDistance(2, 4));
    }

    static readonly TextCorpus Corpus = TextCorpus.FromText(string.Concat(Enumerable.Range(0, 400).Select(i =>
        $"line {i % 7}: the quick brown fox jumps over the lazy dog {i % 3}.\n")));

    static FoxExperimentSettings Small => new()
    {
        TrainLength = 8, EvalMultiple = 4, Steps = 3, BatchSize = 4, DModel = 16, Layers = 2, Heads = 2,
        EvalSequences = 5, EvalBatch = 2, PathChunkSize = 4, CutContextBatch = 7, DistanceSequences = 3, CutContextSequences = 5,
    };

    [Fact]
    public void CutContextLossSeesOnlyTheLastTokens()
    {
        var s = Small;
        manual_seed(0);
        var model = new CausalLM(FoxExperiment.Config(PositionEncoding.FoX, s));
        model.eval();
        var windows = FoxExperiment.EvaluationWindows(Corpus, s);                           // [5, 33]
        var full = FoxExperiment.LossByPosition(model, windows, 5);
        var wholeContext = ContextUse.CutContextLossByPosition(model, windows, 32, 3);
        for (int i = 0; i < 32; i++) Assert.Equal(full[i], wholeContext[i], 5);
        var cut = ContextUse.CutContextLossByPosition(model, windows, 8, 7);
        for (int i = 0; i < 8; i++) Assert.Equal(full[i], cut[i], 5);                    // the whole prefix fits
        foreach (var i in new[] { 8, 13, 31 })
        {
            var sub = windows[.., (i - 7)..(i + 2)];                                         // tokens i − 7 … i + 1
            var expected = Trainer.PerTokenLoss(model, sub[.., ..8], sub[.., 1..])[.., -1].to(float64).mean().item<double>();
            Assert.Equal(expected, cut[i], 5);
        }
        Assert.NotEqual(full[20], cut[20], 6);
        Assert.Throws<ArgumentOutOfRangeException>("context", () => ContextUse.CutContextLossByPosition(model, windows, 33, 2));
    }

    [Fact]
    public void SeedsTrainSeparateStreamsAndSummariseAsMeanAndRange()
    {
        var s = Small with { Models = new FoxVariant[] { PositionEncoding.FoX, new(PositionEncoding.FoX, true) }, Seeds = 2 };
        var runs = FoxExperiment.Run(TestRuns.Cpu(3), Corpus, s);
        Assert.Equal(new[] { 0, 0, 1, 1 }, runs.Select(r => r.Seed));
        Assert.Equal(new[] { "FoX", "FoX (gate/√d)", "FoX", "FoX (gate/√d)" }, runs.Select(r => r.Name));
        var one = FoxExperiment.Run(TestRuns.Cpu(3), Corpus, s with { Seeds = 1, Models = new FoxVariant[] { PositionEncoding.FoX } });
        Assert.Equal(one[0].LossByPosition, runs[0].LossByPosition);                        // seed 0 is the single-seed run
        Assert.NotEqual(runs[0].LossByPosition, runs[2].LossByPosition);                    // seed 1: other init and data
        Assert.NotEqual(runs[0].LossByPosition, runs[1].LossByPosition);                    // the scaled gate changes the model

        var table = FoxExperiment.Table(runs, s.TrainLength);
        Assert.Equal(new[] { "model", "seed", "loss at L" }, table.Columns.Take(3).Select(c => c.Name));
        var summary = FoxExperiment.Summary(runs, s.TrainLength);
        Assert.Equal(2, summary.Rows.Count);
        Assert.Equal(new[] { "model", "seeds", "loss at L mean", "loss at L min", "loss at L max" }, summary.Columns.Take(5).Select(c => c.Name));
        double a = FoxExperiment.BandLoss(runs[0].LossByPosition, 4, 8), b = FoxExperiment.BandLoss(runs[2].LossByPosition, 4, 8);
        Assert.Equal(Math.Round((a + b) / 2, 4), (double)summary["loss at L mean"][0]!);
        Assert.Equal(Math.Round(Math.Min(a, b), 4), (double)summary["loss at L min"][0]!);
        Assert.Equal(Math.Round(Math.Max(a, b), 4), (double)summary["loss at L max"][0]!);
        Assert.Equal(2, (int)summary["seeds"][1]!);

        using var windows = FoxExperiment.EvaluationWindows(Corpus, s);
        var use = FoxExperiment.ContextUseTable(runs.Take(1).ToList(), windows, s);
        Assert.Equal(new[] { "2L", "4L" }, use["band"].Cast<string>());
        Assert.Equal((double)use["full context"][1]!, Math.Round(FoxExperiment.BandLoss(runs[0].LossByPosition, 16, 32), 4));
        var distances = FoxExperiment.DistanceTable(runs.Take(2).ToList(), windows, s);
        Assert.Equal(2 * 2 * 2, distances.Rows.Count);                                      // 2 runs × 2 layers × 2 heads
        foreach (var row in distances.Rows)
        {
            Assert.InRange((double)row[4]!, 0, 8);                                           // queries 4 … 7 reach at most 7 back
            Assert.InRange((double)row[5]!, 0, 32);
        }
    }
}
