using PathNotebooks.Models;
using PathNotebooks.PaTH;
using PathNotebooks.Tasks;

namespace PathNotebooks.Tests.Tasks;

[Collection("torch")]
public class FlipFlopTests
{
    [Fact]
    public void ReadsAnswerTheLastWrittenBitAndTheMaskIsExactlyAfterReads()
    {
        var seq = FlipFlop.Sequences(8, 40, 0.5, new Generator(3));
        Assert.Equal(new long[] { 8, 80 }, seq.shape);
        var s = seq.data<long>().ToArray();
        var answers = FlipFlop.ReadAnswers(seq);
        int reads = 0;
        for (int b = 0; b < 8; b++)
        {
            Assert.Equal(FlipFlop.Write, s[b * 80]);                                     // first instruction is w
            for (int t = 0; t < 80; t++)
            {
                long tok = s[b * 80 + t];
                if (t % 2 == 0) Assert.Contains(tok, new long[] { FlipFlop.Write, FlipFlop.Read, FlipFlop.Ignore });
                else Assert.Contains(tok, new long[] { FlipFlop.Zero, FlipFlop.One });
                if (tok == FlipFlop.Read && t % 2 == 0) { reads++; Assert.Equal(answers[b, t], s[b * 80 + t + 1]); }
            }
        }
        Assert.True(reads > 20);
        using var batch = FlipFlop.ToBatch(seq);
        Assert.Equal(new long[] { 8, 79 }, batch.Inputs.shape);
        var mask = batch.LossMask!.data<bool>().ToArray();
        var targets = batch.Targets.data<long>().ToArray();
        for (int b = 0; b < 8; b++)
            for (int t = 0; t < 79; t++)
            {
                Assert.Equal(s[b * 80 + t] == FlipFlop.Read, mask[b * 79 + t]);
                Assert.Equal(s[b * 80 + t + 1], targets[b * 79 + t]);
                if (mask[b * 79 + t]) Assert.Equal(answers[b, t], targets[b * 79 + t]);
            }
    }

    [Fact]
    public void SameSeedSameSequencesAndIgnoreRateIsRespected()
    {
        Assert.True(FlipFlop.Sequences(4, 50, 0.8, new Generator(5)).eq(FlipFlop.Sequences(4, 50, 0.8, new Generator(5))).all().item<bool>());
        Assert.False(FlipFlop.Sequences(4, 50, 0.8, new Generator(5)).eq(FlipFlop.Sequences(4, 50, 0.8, new Generator(6))).all().item<bool>());
        var seq = FlipFlop.Sequences(64, 200, 0.98, new Generator(1));
        double ignoreRate = seq[.., TensorIndex.Slice(2, null, 2)].eq(FlipFlop.Ignore).to(ScalarType.Float64).mean().item<double>();
        Assert.InRange(ignoreRate, 0.97, 0.99);
        Assert.Equal("pIgnore", Assert.Throws<ArgumentOutOfRangeException>(() => FlipFlop.Sequences(1, 4, 1.0, new Generator(1))).ParamName);
    }

    [Fact]
    public void PathLearnsFlipFlopInATinyRun()
    {
        var config = PathExperiments.FlipFlopConfig(PositionEncoding.PaTH) with { DModel = 32, PathLowRank = 16, PathChunkSize = 32 };
        var options = new FlipFlopOptions { Steps = 80, BatchSize = 16, Pairs = 32, WarmupSteps = 8, LearningRate = 5e-3, EvalSequences = 64, LogEvery = 20 };
        var result = PathExperiments.TrainFlipFlop(config, options);
        // chance is 50 %; a model that only guesses or ignores position cannot get below ~25 %
        Assert.True(result.History[^1].Loss < 0.5 * result.History[0].Loss, $"loss {result.History[0].Loss} → {result.History[^1].Loss}");
        Assert.True(result.ErrorInDistribution < 0.2, $"ID read error {result.ErrorInDistribution}");
    }
}

[Collection("torch")]
public class WordProblemTests
{
    [Fact]
    public void GroupsHaveTheRightOrderAndAssociativeExactProducts()
    {
        var s5 = PermutationGroup.S5; var a5 = PermutationGroup.A5;
        Assert.Equal(120, s5.Order);
        Assert.Equal(60, a5.Order);
        var rng = new Random(1);
        for (int n = 0; n < 300; n++)
        {
            int a = rng.Next(120), b = rng.Next(120), c = rng.Next(120);
            Assert.Equal(s5.Multiply(s5.Multiply(a, b), c), s5.Multiply(a, s5.Multiply(b, c)));
            Assert.Equal(s5.IndexOf(PermutationGroup.Compose(s5.Element(a), s5.Element(b))), s5.Multiply(a, b));
            Assert.Equal(s5.Identity, s5.Multiply(a, s5.Inverse(a)));
        }
        // A5 is closed and every element is even; a 3-cycle times a 3-cycle stays in A5
        for (int a = 0; a < 60; a++) Assert.Equal(0, PermutationGroup.Parity(a5.Element(a)));
        Assert.Throws<ArgumentException>(() => a5.IndexOf(new[] { 1, 0, 2, 3, 4 }));     // a transposition is odd
    }

    [Fact]
    public void TargetsAreRunningProductsByBruteForceComposition()
    {
        var g = PermutationGroup.A5;
        using var batch = WordProblem.Generate(g, 3, 17, new Generator(2));
        var x = batch.Inputs.data<long>().ToArray(); var y = batch.Targets.data<long>().ToArray();
        for (int b = 0; b < 3; b++)
        {
            int[] running = { 0, 1, 2, 3, 4 };
            for (int t = 0; t < 17; t++)
            {
                var e = g.Element((int)x[b * 17 + t]);
                running = running.Select((_, i) => running[e[i]]).ToArray();            // running ∘ e: apply e first
                Assert.Equal(g.IndexOf(running), y[b * 17 + t]);
            }
        }
        using var again = WordProblem.Generate(g, 3, 17, new Generator(2));
        Assert.True(again.Inputs.eq(batch.Inputs).all().item<bool>());
        // the paper's alphabet: (123), (124), (125) and inverses — six distinct 3-cycles that generate all of A5
        var gens = g.ThreeCycleGenerators();
        Assert.Equal(6, gens.Distinct().Count());
        Assert.Equal(new[] { 1, 3, 2, 0, 4 }, g.Element(gens[2]));                    // (0 1 3): 0 → 1 → 3 → 0
        Assert.Equal(g.Identity, g.Multiply(gens[2], gens[3]));                        // followed by its inverse
        var reached = new HashSet<int> { g.Identity };
        for (int round = 0; round < 10; round++)
            foreach (var e in reached.ToList()) foreach (var s in gens) reached.Add(g.Multiply(e, s));
        Assert.Equal(60, reached.Count);
        using var words = WordProblem.Generate(g, 4, 50, new Generator(3), alphabet: gens);
        Assert.True(words.Inputs.data<long>().ToArray().All(x => gens.Contains((int)x)));
    }
}

[Collection("torch")]
public class ExperimentTests
{
    [Fact]
    public void WordProblemExperimentReturnsAccuracyPerLength()
    {
        var config = new ModelConfig { VocabSize = 60, DModel = 16, Heads = 2, Layers = 1, Encoding = PositionEncoding.PaTH, PathLowRank = 4, PathChunkSize = 8 };
        var options = new WordProblemOptions { Steps = 3, BatchSize = 4, Length = 8, EvalLengths = new[] { 4, 12 }, EvalSequences = 6, LogEvery = 1 };
        var result = PathExperiments.TrainWordProblem(config, PermutationGroup.A5, options);
        Assert.Equal(new[] { 4, 12 }, result.Accuracy.Select(a => a.Length));
        Assert.All(result.Accuracy, a =>
        {
            Assert.InRange(a.TokenAccuracy, 0, 1);
            Assert.InRange(a.SequenceAccuracy, 0, a.TokenAccuracy);
        });
        Assert.Equal(3, result.History.Count);
        var table = PathExperiments.Table(new[] { result });
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal("config", Assert.Throws<ArgumentException>(() => PathExperiments.TrainWordProblem(config with { VocabSize = 120 }, PermutationGroup.A5, options)).ParamName);
    }
}
