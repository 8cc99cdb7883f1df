using PathNotebooks.Experiments;
using PathNotebooks.Models;
using PathNotebooks.PaTH;
using PathNotebooks.Tasks;

namespace PathNotebooks.Tests.Tasks;

[Collection("torch")]
public class ExperimentTests
{
    [Fact]
    public void WordProblemExperimentReturnsAccuracyPerLength()
    {
        var config = new ModelConfig { VocabSize = 60, DModel = 16, Heads = 2, Layers = 1, Mixers = new PathSpec { LowRank = 4, ChunkSize = 8 } };
        var options = new WordProblemOptions { Steps = 3, BatchSize = 4, Length = 8, EvalLengths = new[] { 4, 12 }, EvalSequences = 6, LogEvery = 1 };
        var result = PathExperiments.TrainWordProblem(TestRuns.Cpu(), config, PermutationGroup.A5, options);
        Assert.Equal(new[] { 4, 12 }, result.Accuracy.Select(a => a.Length));
        Assert.All(result.Accuracy, a =>
        {
            Assert.InRange(a.TokenAccuracy, 0, 1);
            Assert.InRange(a.SequenceAccuracy, 0, a.TokenAccuracy);
        });
        Assert.Equal(3, result.History.Count);
        var table = PathExperiments.Table(new[] { result });
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal("config", Assert.Throws<ArgumentException>(() => PathExperiments.TrainWordProblem(TestRuns.Cpu(), config with { VocabSize = 120 }, PermutationGroup.A5, options)).ParamName);
    }
}
