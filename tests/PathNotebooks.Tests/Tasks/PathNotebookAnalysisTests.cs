using PathNotebooks.Experiments;
using PathNotebooks.Models;
using PathNotebooks.PaTH;
using PathNotebooks.Tasks;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Tests.Tasks;

/// <summary>Notebook 03's seeds, summaries and flip-flop analyses (<see cref="PathExperiments"/>).</summary>
[Collection("torch")]
public class PathNotebookAnalysisTests
{
    static readonly FlipFlopOptions Tiny = new() { Steps = 3, BatchSize = 4, Pairs = 8, WarmupSteps = 1, EvalSequences = 8, LogEvery = 1 };

    static ModelConfig SmallPath => PathExperiments.FlipFlopConfig(PositionEncoding.PaTH) with { DModel = 16, Mixers = new PathSpec { LowRank = 4, ChunkSize = 4 } };

    [Fact]
    public void SeedIndexGivesSeparateStreamsAndTheSameSeedTheSameNumbers()
    {
        var run = TestRuns.Cpu();
        var a = PathExperiments.TrainFlipFlop(run, SmallPath, Tiny, seed: 0);
        var again = PathExperiments.TrainFlipFlop(TestRuns.Cpu(), SmallPath, Tiny, seed: 0);
        var b = PathExperiments.TrainFlipFlop(run, SmallPath, Tiny, seed: 1);
        Assert.Equal(0, a.Seed);
        Assert.Equal(1, b.Seed);
        Assert.Equal(a.History.Select(p => p.Loss), again.History.Select(p => p.Loss));
        Assert.NotEqual(a.History.Select(p => p.Loss), b.History.Select(p => p.Loss));
        // model-init and batch streams never share a seed: 0, 1 (seed 0) and 10, 11 (seed 1)
        Assert.Contains(run.Seed + PathExperiments.SeedStride, run.SeedsUsed);
        Assert.Contains(run.Seed + 1 + PathExperiments.SeedStride, run.SeedsUsed);
        Assert.Equal("seed", PathExperiments.Table(new[] { a, b }).Columns[1].Name);
    }

    [Fact]
    public void SummariesGiveMeanMinAndMaxOverSeeds()
    {
        var history = new List<TrainPoint>();
        var flipFlop = new[]
        {
            new FlipFlopResult("PaTH", 10, 0.1, 0.2, 0.0, 1, history, 0),
            new FlipFlopResult("PaTH", 10, 0.3, 0.4, 0.0, 1, history, 1),
            new FlipFlopResult("RoPE", 10, 0.5, 0.5, 0.5, 1, history, 0),
        };
        var s = PathExperiments.Summary(flipFlop);
        Assert.Equal(new[] { "PaTH", "RoPE" }, s.Columns["model"].Cast<string>());
        Assert.Equal(2, (int)s.Columns["seeds"][0]!);
        Assert.Equal(20.0, (double)s.Columns["error ID % mean"][0]!, 9);
        Assert.Equal(10.0, (double)s.Columns["error ID % min"][0]!, 9);
        Assert.Equal(30.0, (double)s.Columns["error ID % max"][0]!, 9);
        Assert.Equal(50.0, (double)s.Columns["error sparse % max"][1]!, 9);

        var words = new[]
        {
            new WordProblemResult("PaTH", "S2", 10, new[] { new LengthAccuracy(4, 1.0, 1.0, 1.0), new LengthAccuracy(16, 0.75, 0.5, 0.5) }, 1, history, 0),
            new WordProblemResult("PaTH", "S2", 10, new[] { new LengthAccuracy(4, 0.5, 0.5, 0.5), new LengthAccuracy(16, 0.5, 0.0, 0.0) }, 1, history, 1),
        };
        var w = PathExperiments.Summary(words);
        Assert.Equal(2, w.Rows.Count);
        Assert.Equal(0.625, (double)w.Columns["token accuracy mean"][1]!, 9);
        Assert.Equal(0.0, (double)w.Columns["final accuracy min"][1]!, 9);
        Assert.Equal(0.5, (double)w.Columns["final accuracy max"][1]!, 9);
        // beyond L = 4: (16·0.75 − 4·1.0) / 12 = 2/3 over positions 4 … 15
        Assert.Equal(2.0 / 3.0, PathExperiments.TokenAccuracyBeyond(words[0], 4), 12);
        Assert.Throws<ArgumentException>(() => PathExperiments.TokenAccuracyBeyond(words[0], 8));
        Assert.Equal("seed", PathExperiments.Table(words).Columns[3].Name);
    }

    [Fact]
    public void FlipFlopAnalysesMeasureTransformsAndReadAttention()
    {
        var run = TestRuns.Cpu();
        using var model = run.NewModel(SmallPath);
        using var batch = FlipFlop.Generate(4, 12, FlipFlop.InDistribution, run.Generator(SeedStream.Evaluation, 3));
        var types = PathExperiments.FlipFlopTypes(batch.Inputs);
        Assert.Equal(0, types[0, 0]);                                               // the first instruction is always w
        Assert.Equal(3, types[0, 1]);                                               // … and its bit is a written bit

        var transforms = PathExperiments.FlipFlopTransforms(model, batch.Inputs);
        Assert.Equal(2 * PathExperiments.FlipFlopTokenTypes.Count, (int)transforms.Rows.Count);
        foreach (var row in transforms.Rows)
        {
            if ((int)row[2]! == 0) continue;                                        // a type absent from these sequences
            Assert.InRange((double)row[3]!, 0, 2);                                   // mean β
            if (double.IsNaN((double)row[5]!)) continue;
            Assert.InRange((double)row[4]!, 0, 1.0000001);                           // |cos|
            Assert.InRange((double)row[5]!, -1e-6, 1.0000001);                       // kept fraction
        }

        var read = PathExperiments.FlipFlopReadAttention(model, batch.Inputs);
        Assert.Equal(2, (int)read.Rows.Count);
        foreach (var row in read.Rows)
        {
            double total = Enumerable.Range(1, PathExperiments.FlipFlopKeyCategories.Count).Sum(c => (double)row[c]!);
            Assert.InRange(total, 0.99, 1.01);                                       // the masses of a read add up to 1
        }
        Assert.Throws<ArgumentException>(() => PathExperiments.FlipFlopTransforms(
            run.NewModel(PathExperiments.FlipFlopConfig(PositionEncoding.RoPE) with { DModel = 16 }), batch.Inputs));
    }
}
