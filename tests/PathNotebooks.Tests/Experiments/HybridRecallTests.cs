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

    /// <summary>The training-step benchmark times every model, the other GDN forms and concurrent runs, one row each.</summary>
    [Fact]
    public void TrainingStepBenchmarkHasOneRowPerConfiguration()
    {
        var table = TrainingStepBenchmark.Run(Micro, CPU, steps: 1, warmup: 1, concurrency: new[] { 2 });
        var models = Enumerable.Range(0, (int)table.Rows.Count).Select(r => (string)table["model"][r]).ToList();
        // four models alone, three other GDN forms, then GDN and attention with two runs at once
        Assert.Equal(new[] { "GDN", "GDN+SWA", "GDN+NSA", "Attention", "GDN", "GDN", "GDN", "GDN", "Attention" }, models);
        Assert.Equal(new[] { 1, 1, 1, 1, 1, 1, 1, 2, 2 }, Enumerable.Range(0, models.Count).Select(r => (int)table["concurrent runs"][r]!));
        var forms = Enumerable.Range(4, 3).Select(r => ((int)table["gdn chunk"][r]!, (string)table["gdn inverse"][r])).ToList();
        Assert.DoesNotContain((Micro.GdnChunkSize, Micro.GdnInverse.ToString()), forms);     // the settings' own form is row 0
        Assert.Equal(3, forms.Distinct().Count());
        Assert.All(Enumerable.Range(0, models.Count), r => Assert.True((double)table["ms/step per run"][r]! > 0));
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => TrainingStepBenchmark.Run(Micro, CPU, steps: 0)).ParamName);
    }
}
