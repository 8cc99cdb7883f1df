using PathNotebooks.Benchmarks;
using PathNotebooks.Data;
using PathNotebooks.Experiments;
using static TorchSharp.torch;

namespace PathNotebooks.Tests.Experiments;

[Collection("torch")]
public class HybridRecallTests
{
    static readonly HybridRecallSettings Micro = HybridRecallSettings.Tiny with
    {
        DModel = 16, MqarSteps = 3, NeedleSteps = 3, EvalSequences = 4, EvalBatch = 4, Seeds = 2, NeedleDepths = new[] { 0.5 },
    };

    /// <summary>Runs on several threads at once give the sequential run's numbers, in its order.</summary>
    [Fact]
    public void ConcurrentRunsGiveTheSequentialNumbersInTheSameOrder()
    {
        var corpus = TextCorpus.Load();
        var sequential = HybridRecallExperiment.Run(TestRuns.Cpu(), corpus, Micro);
        var logged = new List<string>();
        var concurrent = HybridRecallExperiment.Run(TestRuns.Cpu(), corpus, Micro with { ConcurrentRuns = 3 },
            onLog: (task, model, point) => logged.Add($"{task} {model} {point.Step}"));
        Assert.Equal(2 * 2 * Micro.Models.Count, sequential.Runs.Count);
        Assert.Equal(sequential.Runs.Select(r => (r.Seed, r.Name, r.Task)), concurrent.Runs.Select(r => (r.Seed, r.Name, r.Task)));
        Assert.Equal(sequential.Runs.Select(r => r.Curve.Select(p => p.Loss).ToList()), concurrent.Runs.Select(r => r.Curve.Select(p => p.Loss).ToList()));
        Assert.Equal(sequential.Points.Select(p => (p.Task, p.Model, p.Seed, p.Length, p.Pairs, p.Score)),
            concurrent.Points.Select(p => (p.Task, p.Model, p.Seed, p.Length, p.Pairs, p.Score)));
        Assert.NotEqual(sequential.Runs[0].Curve[0].Loss, sequential.Runs[2 * Micro.Models.Count].Curve[0].Loss);   // seed 1 is its own run
        // Only seed 0 is logged: every (task, model) once per logged step.
        Assert.Equal(2 * Micro.Models.Count * 3, logged.Count);
        Assert.Equal("ConcurrentRuns", Assert.Throws<ArgumentOutOfRangeException>(() => (Micro with { ConcurrentRuns = 0 }).Validate()).ParamName);
    }

    /// <summary>The training-step benchmark times every model with both optimisers, the other GDN forms, concurrent runs
    /// and the forward / forward+backward phases, one row each.</summary>
    [Fact]
    public void TrainingStepBenchmarkHasOneRowPerConfiguration()
    {
        var table = TrainingStepBenchmark.Run(Micro, CPU, steps: 1, warmup: 1, concurrency: new[] { 2 });
        int rows = (int)table.Rows.Count;
        List<T> Column<T>(string name) => Enumerable.Range(0, rows).Select(r => (T)table[name][r]!).ToList();
        var models = Column<string>("model");
        // four models with the settings' optimiser, again with the other one, three other GDN forms, then GDN and
        // attention with two runs at once (each optimiser), then GDN's phases alone and with two runs
        Assert.Equal(new[] { "GDN", "GDN+SWA", "GDN+NSA", "Attention", "GDN", "GDN+SWA", "GDN+NSA", "Attention", "GDN", "GDN", "GDN",
            "GDN", "Attention", "GDN", "Attention", "GDN", "GDN", "GDN", "GDN" }, models);
        Assert.Equal(new[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2 }, Column<int>("concurrent runs"));
        var optimizers = Column<string>("optimizer");
        Assert.Equal("flat", optimizers[0]);                                                    // Micro trains with the flat optimiser
        Assert.Equal("per-parameter", optimizers[4]);
        Assert.Equal(new[] { "per-parameter", "per-parameter", "flat", "flat" }, optimizers.Skip(11).Take(4));
        Assert.Equal(new[] { "forward", "forward+backward", "forward", "forward+backward" }, Column<string>("timed").Skip(15));
        var forms = Enumerable.Range(8, 3).Select(r => ((int)table["gdn chunk"][r]!, (string)table["gdn inverse"][r])).ToList();
        Assert.DoesNotContain((Micro.GdnChunkSize, Micro.GdnInverse.ToString()), forms);     // the settings' own form is row 0
        Assert.Equal(3, forms.Distinct().Count());
        Assert.All(Column<double>("ms/step per run"), ms => Assert.True(ms > 0));
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => TrainingStepBenchmark.Run(Micro, CPU, steps: 0)).ParamName);
    }
}
