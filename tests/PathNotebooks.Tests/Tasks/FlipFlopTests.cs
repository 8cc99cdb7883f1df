using PathNotebooks.Experiments;
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
        var config = PathExperiments.FlipFlopConfig(PositionEncoding.PaTH) with { DModel = 32, Mixers = new PathSpec { LowRank = 16, ChunkSize = 32 } };
        var options = new FlipFlopOptions { Steps = 80, BatchSize = 16, Pairs = 32, WarmupSteps = 8, LearningRate = 5e-3, EvalSequences = 64, LogEvery = 20 };
        var result = PathExperiments.TrainFlipFlop(TestRuns.Cpu(), config, options);
        // chance is 50 %; a model that only guesses or ignores position cannot get below ~25 %
        Assert.True(result.History[^1].Loss < 0.5 * result.History[0].Loss, $"loss {result.History[0].Loss} → {result.History[^1].Loss}");
        Assert.True(result.ErrorInDistribution < 0.2, $"ID read error {result.ErrorInDistribution}");
    }
}
