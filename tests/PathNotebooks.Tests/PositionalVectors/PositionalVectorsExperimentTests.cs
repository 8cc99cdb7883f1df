using PathNotebooks.Experiments;
using PathNotebooks.Softmax;
using System.Text;
using PathNotebooks.Data;
using PathNotebooks.PositionalVectors;

namespace PathNotebooks.Tests.PositionalVectors;

[Collection("torch")]
public class PositionalVectorsExperimentTests
{
    /// <summary>A small in-memory corpus: repeated varied lines, enough tokens for every split and window used here.</summary>
    static TextCorpus SmallCorpus()
    {
        var text = new StringBuilder();
        var rng = new Random(3);
        for (int i = 0; i < 400; i++)
            text.Append("Gets the value ").Append(rng.Next(1000)).Append(" of the member named item").Append(i % 17).Append(".\n");
        return TextCorpus.FromText(text.ToString());
    }

    static PositionalVectorsSettings Micro => new()
    {
        TrainLength = 12, Window = 4, DModel = 16, Layers = 2, Heads = 2, Steps = 3, BatchSize = 4,
        DecompositionSequences = 8, EvalSequences = 4, EvalBatchSize = 4, AnchorTokens = 2,
        ReplacementLayers = new[] { 1 }, LogitScales = new[] { 1.0, 1.5 },
    };

    [Fact]
    public void RunTrainsFourModelsAndTablesEveryRow()
    {
        var s = Micro;
        var result = PositionalVectorsExperiment.Run(TestRuns.Cpu(), s, SmallCorpus());
        Assert.Equal(new[] { "NoPE", "RoPE", "ALiBi", "NoPE-window4" }, result.Models.Select(m => m.Name));
        Assert.Equal(4, ((SoftmaxAttentionSpec)result.Models[3].Model.Config.Mixers.Default).Window);
        Assert.Equal(AttentionPosition.ALiBi, ((SoftmaxAttentionSpec)result.Model("ALiBi").Model.Config.Mixers.Default).Position);
        foreach (var m in result.Models)
        {
            Assert.Equal(new long[] { 3, 12, 16 }, m.InWindow.P.shape);                  // [L+1, C, D]
            Assert.Equal(new long[] { 3, 48, 16 }, m.Long.P.shape);                      // [L+1, 4C, D]
            Assert.Equal(48, m.Perplexity.LossPerPosition.Length);
            Assert.All(m.Perplexity.LossPerPosition, l => Assert.True(double.IsFinite(l) && l > 0));
        }
        // 1 replacement layer + 1 attention scaling (λ = 1 skipped) + 2 window extensions.
        Assert.Equal(new[] { "NoPE + PV replacement ℓ=1", "NoPE + attention scaling λ=1.5", "NoPE-window4 + window ×4 λ=1", "NoPE-window4 + window ×4 λ=1.5" },
            result.Extensions.Select(e => e.Name));
        var table = result.Table();
        Assert.Equal(8, table.Rows.Count);
        Assert.Equal(new[] { "model", "base_model", "setting", "seed", "ppl_0_C", "ppl_C_2C", "ppl_2C_4C", "train_loss" }, table.Columns.Select(c => c.Name));
        Assert.Equal(Math.Round(result.Models[0].Perplexity.PplBand(24, 48), 4), (double)table["ppl_2C_4C"][0]);
        Assert.Equal(Math.Round(result.Models[0].Perplexity.PplAt(12), 4), (double)table["ppl_0_C"][0]);     // band [0, C) = cumulative at C
        Assert.True(double.IsNaN((double)table["train_loss"][4]));
        // Extensions restore the models: evaluating again gives the baseline numbers.
        var again = PerplexityEvaluator.Evaluate(result.Models[3].Model, result.EvalSequences, s.TrainLength, s.EvalBatchSize);
        Assert.Equal(result.Models[3].Perplexity.LossPerPosition, again.LossPerPosition);
        Assert.Null(((SoftmaxAttention)result.Models[3].Model.Blocks[0].Mixer).Window);
    }

    [Fact]
    public void SeedsTrainSeparateModelsAndTheSummarySpansThem()
    {
        var s = Micro with { Steps = 2, Seeds = 2 };
        var result = PositionalVectorsExperiment.Run(TestRuns.Cpu(), s, SmallCorpus());
        Assert.Equal(8, result.Models.Count);
        Assert.Equal(new[] { 0, 0, 0, 0, 1, 1, 1, 1 }, result.Models.Select(m => m.Seed));
        Assert.Equal(result.Models.Take(4).Select(m => m.Name), result.FirstSeed.Select(m => m.Name));
        // Seed 1 starts from other weights and sees other windows: its numbers differ from seed 0's.
        Assert.NotEqual(result.Model("NoPE", 0).Perplexity.LossPerPosition, result.Model("NoPE", 1).Perplexity.LossPerPosition);
        Assert.Equal(8, result.Extensions.Count);                                               // 4 per seed
        var table = result.Table();
        Assert.Equal(16, table.Rows.Count);
        var summary = result.Summary();
        Assert.Equal(8, summary.Rows.Count);
        Assert.All(Enumerable.Range(0, 8), i => Assert.Equal(2, (int)summary["seeds"][i]));
        double a = result.Model("NoPE", 0).Perplexity.PplBand(0, 12), b = result.Model("NoPE", 1).Perplexity.PplBand(0, 12);
        Assert.Equal(Math.Round((a + b) / 2, 4), (double)summary["ppl_0_C_mean"][0], 3);
        Assert.Equal(Math.Round(Math.Min(a, b), 4), (double)summary["ppl_0_C_min"][0]);
        Assert.Equal(Math.Round(Math.Max(a, b), 4), (double)summary["ppl_0_C_max"][0]);
        Assert.Throws<ArgumentOutOfRangeException>("Seeds", () => (Micro with { Seeds = 0 }).Validate());
    }

    [Fact]
    public void RunIsDeterministicForTheSameSeed()
    {
        var corpus = SmallCorpus();
        var a = PositionalVectorsExperiment.Run(TestRuns.Cpu(), Micro with { Steps = 2 }, corpus);
        var b = PositionalVectorsExperiment.Run(TestRuns.Cpu(), Micro with { Steps = 2 }, corpus);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(a.Models[i].Perplexity.LossPerPosition, b.Models[i].Perplexity.LossPerPosition);
            Assert.True(Compare.RelativeError(a.Models[i].InWindow.P, b.Models[i].InWindow.P) == 0);
        }
        Assert.Equal(a.Extensions.Select(e => e.Perplexity.PplAt(48)), b.Extensions.Select(e => e.Perplexity.PplAt(48)));
    }

    [Fact]
    public void SettingsAreValidatedAndNamed()
    {
        Assert.Throws<ArgumentOutOfRangeException>("Window", () => (Micro with { Window = 12 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("EvalMultiple", () => (Micro with { EvalMultiple = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("EvalBatchSize", () => (Micro with { EvalBatchSize = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("ReplacementLayers", () => (Micro with { ReplacementLayers = new[] { 3 } }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>("LogitScales", () => (Micro with { LogitScales = new[] { 0.0 } }).Validate());
        Assert.Throws<ArgumentNullException>("settings", () => PositionalVectorsExperiment.Run(TestRuns.Cpu(), null!, SmallCorpus()));
        foreach (var s in new[] { PositionalVectorsSettings.Tiny, PositionalVectorsSettings.Full })
        {
            s.Validate();
            Assert.All(s.Models(), m => m.Config.Validate());
            Assert.True(s.ReplacementLayers.All(l => l >= 1 && l < s.Layers), "replacement is tried at early layers, never after the last block");
        }
        Assert.True(PositionalVectorsSettings.Full.TrainLength > PositionalVectorsSettings.Tiny.TrainLength);
        Assert.Equal(3, PositionalVectorsSettings.Full.Seeds);
        Assert.Equal(1, PositionalVectorsSettings.Tiny.Seeds);
    }

    [Fact]
    public void BothSizesFitTheShippedCorpus()
    {
        // The full size is only run on a GPU: check here that its windows exist in the shipped corpus (a GPU run once
        // failed because 256 windows of 4C + 1 tokens do not fit in the validation split).
        var corpus = TextCorpus.Load();
        foreach (var s in new[] { PositionalVectorsSettings.Tiny, PositionalVectorsSettings.Full })
        {
            s.Validate();
            using var eval = corpus.Sequences(CorpusSplit.Validation, s.EvalSequences, s.EvalMultiple * s.TrainLength + 1);
            using var decomposition = corpus.Sequences(CorpusSplit.Train, s.DecompositionSequences, s.TrainLength);
            Assert.Equal(s.EvalSequences, eval.shape[0]);
        }
    }
}
