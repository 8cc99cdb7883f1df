using PathNotebooks.Data;
using PathNotebooks.Experiments;

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
}
