using PathNotebooks.Data;
using PathNotebooks.Experiments;
using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.Forgetting;

[Collection("torch")]
public class FoxExperimentTests
{
    // A small corpus with structure a model can pick up in a few steps (validation = every 20th line).
    static readonly TextCorpus Corpus = TextCorpus.FromText(string.Concat(Enumerable.Range(0, 400).Select(i =>
        $"line {i % 7}: the quick brown fox jumps over the lazy dog {i % 3}.\n")));

    static FoxExperimentSettings Small(params PositionEncoding[] encodings) => new()
    {
        TrainLength = 8, EvalMultiple = 4, Steps = 3, BatchSize = 4, DModel = 16, Layers = 1, Heads = 2,
        EvalSequences = 5, EvalBatch = 2, PathChunkSize = 4, Encodings = encodings,
    };

    [Fact]
    public void LossByPositionIsTheMeanPerTokenLossWhateverTheEvalBatch()
    {
        var s = Small(PositionEncoding.FoX);
        manual_seed(0);
        var model = new CausalLM(FoxExperiment.Config(PositionEncoding.FoX, s));
        var windows = FoxExperiment.EvaluationWindows(Corpus, s);                       // [5, 33]
        Assert.Equal(new long[] { 5, 33 }, windows.shape);
        var expected = Trainer.PerTokenLoss(model, windows[.., ..32], windows[.., 1..]).to(float64).mean(new long[] { 0 }).data<double>().ToArray();
        foreach (var batch in new[] { 1, 2, 5, 9 })
        {
            var got = FoxExperiment.LossByPosition(model, windows, batch);
            Assert.Equal(32, got.Length);
            for (int i = 0; i < 32; i++) Assert.Equal(expected[i], got[i], 5);
        }
        Assert.Throws<ArgumentException>("windows", () => FoxExperiment.LossByPosition(model, windows[0], 2));
        Assert.Throws<ArgumentOutOfRangeException>("batch", () => FoxExperiment.LossByPosition(model, windows, 0));
    }

    [Fact]
    public void BandsBucketsAndBandLossAverageTheRightPositions()
    {
        var loss = Enumerable.Range(1, 16).Select(i => (double)i).ToArray();          // ℓ after seeing i tokens = i
        Assert.Equal(new[] { ("L", 2, 4), ("2L", 4, 8), ("4L", 8, 16) }, FoxExperiment.Bands(4, 16));
        Assert.Equal(3.5, FoxExperiment.BandLoss(loss, 2, 4));                          // positions 3, 4
        Assert.Equal(12.5, FoxExperiment.BandLoss(loss, 8, 16));                        // positions 9 … 16
        Assert.Throws<ArgumentOutOfRangeException>(() => FoxExperiment.BandLoss(loss, 4, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => FoxExperiment.BandLoss(loss, 8, 17));
        var (x, y) = FoxExperiment.Bucketed(loss, 5);                                   // buckets 1–5, 6–10, 11–15, 16
        Assert.Equal(new[] { 3.0, 8.0, 13.0, 16.0 }, x);
        Assert.Equal(new[] { 3.0, 8.0, 13.0, 16.0 }, y);
        Assert.Throws<ArgumentOutOfRangeException>("bucket", () => FoxExperiment.Bucketed(loss, 0));
    }

    [Fact]
    public void RunTrainsEveryEncodingReproduciblyAndTabulatesTheBands()
    {
        var s = Small(PositionEncoding.RoPE, PositionEncoding.FoX, PositionEncoding.PaTH, PositionEncoding.PaTHFoX);
        var runs = FoxExperiment.Run(TestRuns.Cpu(3), Corpus, s);
        Assert.Equal(s.Encodings, runs.Select(r => r.Encoding));
        foreach (var r in runs)
        {
            Assert.Equal(32, r.LossByPosition.Length);
            Assert.All(r.LossByPosition, l => Assert.True(double.IsFinite(l) && l > 0));
            Assert.Equal(FoxExperiment.Name(r.Encoding), r.Model.Config.MixerName);
        }
        // Same seed → same numbers (FoX and PaTH-FoX again, alone).
        var again = FoxExperiment.Run(TestRuns.Cpu(3), Corpus, s with { Encodings = new[] { PositionEncoding.PaTHFoX, PositionEncoding.FoX } });
        Assert.Equal(runs[3].LossByPosition, again[0].LossByPosition);
        Assert.Equal(runs[1].LossByPosition, again[1].LossByPosition);
        Assert.NotEqual(runs[0].LossByPosition, runs[1].LossByPosition);

        var table = FoxExperiment.Table(runs, s.TrainLength);
        Assert.Equal(4, table.Rows.Count);
        Assert.Equal(new[] { "model", "seed", "loss at L", "loss at 2L", "loss at 4L", "change L→4L", "final train loss", "parameters", "train seconds" },
            table.Columns.Select(c => c.Name));
        Assert.Equal("PaTH-FoX", table["model"][3]);
        Assert.Equal(Math.Round(FoxExperiment.BandLoss(runs[2].LossByPosition, 8, 16), 4), (double)table["loss at 2L"][2]!);
        Assert.Single(FoxExperiment.ForgetLayers(runs[1].Model));
        Assert.Empty(FoxExperiment.ForgetLayers(runs[0].Model));
    }

    [Fact]
    public void TrainingLowersTheLossAndFoxRecordsItsGates()
    {
        var s = Small(PositionEncoding.FoX) with { Steps = 40, LearningRate = 1e-2 };
        var runs = FoxExperiment.Run(TestRuns.Cpu(3), Corpus, s);
        Assert.True(runs[0].LossByPosition.Average() < Math.Log(TextCorpus.VocabSize) - 1.5,
            $"mean eval loss {runs[0].LossByPosition.Average():F3} should be well below uniform {Math.Log(256):F3}");
        Assert.True(runs[0].Curve[^1].Loss < runs[0].Curve[0].Loss);
        var layer = FoxExperiment.ForgetLayers(runs[0].Model)[0];
        Assert.Equal(new long[] { 1, 2, 32 }, layer.LastLogForget!.shape);             // last eval batch: window 5 of 5 alone, 2 heads, 4L
        Assert.True(layer.LastLogForget.le(0).all().item<bool>());
    }

    [Fact]
    public void BadSettingsAreRejectedByName()
    {
        Assert.Throws<ArgumentOutOfRangeException>("TrainLength", () => (FoxExperimentSettings.Tiny with { TrainLength = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("Steps", () => (FoxExperimentSettings.Tiny with { Steps = 0 }).Validate());
        Assert.Throws<ArgumentException>("Encodings", () => (FoxExperimentSettings.Tiny with { Encodings = Array.Empty<PositionEncoding>() }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("count", () => FoxExperiment.EvaluationWindows(Corpus, Small(PositionEncoding.FoX) with { EvalSequences = 100_000 }));
        Assert.Equal(256, FoxExperimentSettings.Tiny.EvalLength);
        Assert.Equal(1024, FoxExperimentSettings.Full.EvalLength);
    }
}
