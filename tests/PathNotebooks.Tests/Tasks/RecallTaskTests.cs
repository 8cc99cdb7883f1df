using PathNotebooks.Data;
using PathNotebooks.Models;
using PathNotebooks.Softmax;
using PathNotebooks.Tasks;

namespace PathNotebooks.Tests.Tasks;

/// <summary>The recall tasks of notebook 05 make what they claim: unique, retrievable answers exactly where the mask is.</summary>
[Collection("torch")]
public class RecallTaskTests
{
    static readonly Mqar Task = new(Keys: 40, Values: 30, Fillers: 3);

    [Theory]
    [InlineData(1, 1, 4)]
    [InlineData(8, 5, 60)]
    [InlineData(40, 40, 160)]
    public void MqarAnswersAreTheListedValuesOfDistinctKeys(int pairs, int queries, int length)
    {
        var seq = Task.Sequences(6, length, pairs, queries, new Generator(7));
        Assert.Equal(new long[] { 6, length }, seq.shape);
        var s = seq.data<long>().ToArray();
        var answers = Task.Answers(seq, pairs);
        using var batch = Mqar.ToBatch(seq, queries);
        var mask = batch.LossMask!.data<bool>().ToArray();
        var targets = batch.Targets.data<long>().ToArray();
        for (int b = 0; b < 6; b++)
        {
            var keys = Enumerable.Range(0, pairs).Select(p => s[b * length + 2 * p]).ToList();
            Assert.All(keys, k => Assert.True(Task.IsKey(k)));
            Assert.Equal(pairs, keys.Distinct().Count());                                  // unique keys → unique answers
            Assert.All(Enumerable.Range(0, pairs), p => Assert.True(Task.IsValue(s[b * length + 2 * p + 1])));
            var queried = new List<long>();
            for (int t = 0; t < length - 1; t++)
            {
                bool isQuery = t >= length - 2 * queries && (t - (length - 2 * queries)) % 2 == 0;
                Assert.Equal(isQuery, mask[b * (length - 1) + t]);
                if (isQuery)
                {
                    queried.Add(s[b * length + t]);
                    Assert.Equal(answers[b, t], targets[b * (length - 1) + t]);           // the target is the listed value
                }
                else if (t >= 2 * pairs && t < length - 2 * queries) Assert.InRange(s[b * length + t], 0, Task.Fillers - 1);
            }
            Assert.Equal(queries, queried.Distinct().Count());
            Assert.All(queried, q => Assert.Contains(q, keys));
        }
    }

    [Fact]
    public void MqarIsDeterministicAndRejectsImpossibleSettings()
    {
        Assert.True(Task.Sequences(2, 30, 5, 3, new Generator(1)).equal(Task.Sequences(2, 30, 5, 3, new Generator(1))).all().item<bool>());
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => Task.Sequences(1, 15, 5, 3, new Generator(1))).ParamName);
        Assert.Equal("pairs", Assert.Throws<ArgumentOutOfRangeException>(() => Task.Sequences(1, 200, 41, 3, new Generator(1))).ParamName);
        Assert.Equal("queries", Assert.Throws<ArgumentOutOfRangeException>(() => Task.Sequences(1, 30, 5, 6, new Generator(1))).ParamName);
    }

    static readonly NeedleInAHaystack Needles = new(TextCorpus.FromText(string.Concat(Enumerable.Repeat("Prose with words, 42 digits and more text. ", 60))));

    [Theory]
    [InlineData(NeedleKind.S1, 40, 0.0)]
    [InlineData(NeedleKind.S1, 97, 1.0)]
    [InlineData(NeedleKind.S2, 64, 0.5)]
    [InlineData(NeedleKind.S3, 80, null)]
    public void TheNeedleIsRetrievableAtItsDepthAndTheMaskScoresExactlyTheAnswer(NeedleKind kind, int length, double? depth)
    {
        var (seq, positions) = Needles.Sequences(kind, 5, length, new Generator(3), CorpusSplit.Train, depth);
        Assert.Equal(new long[] { 5, length }, seq.shape);
        int m = Needles.ValueLength(kind), hay = Needles.HaystackLength(kind, length);
        using var batch = Needles.ToBatch(kind, seq);
        for (int b = 0; b < 5; b++)
        {
            var row = seq[b];
            var (needle, answer) = Needles.ReadBack(kind, row);
            Assert.Equal(needle, answer);
            Assert.Equal(m, needle.Length);
            if (kind == NeedleKind.S3) Assert.Matches("^[0-9a-f]{4}-[0-9a-f]{4}$", needle);
            else Assert.Matches("^[1-9][0-9]{4}$", needle);
            Assert.Equal((long)NeedleInAHaystack.NeedleMarker, row[positions[b]].item<long>());
            if (depth is double d) Assert.Equal((int)Math.Round(d * hay), positions[b]);
            var tokens = row.data<long>().ToArray();
            var haystack = tokens.Where((_, i) => i < positions[b] || (i > positions[b] + m && i < length - m - 1)).ToArray();
            Assert.Equal(hay, haystack.Length);
            Assert.All(haystack, t => Assert.InRange(t, 0, 255));                             // no marker in the haystack
            if (kind == NeedleKind.S1) Assert.Contains("The sky is blue.", TextCorpus.Decode(haystack) + NeedleInAHaystack.NoisePassage);
            var mask = batch.LossMask![b].data<bool>().ToArray();
            Assert.Equal(m, mask.Count(x => x));
            Assert.Equal(answer, TextCorpus.Decode(batch.Targets[b].data<long>().Where((_, i) => mask[i]).ToArray()));
            Assert.Equal((long)NeedleInAHaystack.QueryMarker, batch.Inputs[b, length - 1 - m].item<long>());
        }
    }

    [Fact]
    public void NeedleRejectsBadSettings()
    {
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => Needles.Sequences(NeedleKind.S1, 1, 12, new Generator(1))).ParamName);
        Assert.Equal("depth", Assert.Throws<ArgumentOutOfRangeException>(() => Needles.Sequences(NeedleKind.S1, 1, 40, new Generator(1), depth: 1.5)).ParamName);
        Assert.Throws<InvalidOperationException>(() => new NeedleInAHaystack(null).Sequences(NeedleKind.S2, 1, 40, new Generator(1)));
        Assert.Equal("NumberDigits", Assert.Throws<ArgumentOutOfRangeException>(() => (Needles with { NumberDigits = 0 }).Sequences(NeedleKind.S1, 1, 40, new Generator(1))).ParamName);
    }

    [Fact]
    public void RecallScoreCountsTokensAndExactMatches()
    {
        manual_seed(0);
        var model = new CausalLM(new ModelConfig { VocabSize = NeedleInAHaystack.VocabSize, DModel = 16, Heads = 2, Layers = 1, Mixers = new SoftmaxAttentionSpec() });
        using var batch = Needles.Generate(NeedleKind.S1, 4, 40, new Generator(2));
        var score = RecallScore.Of(model, batch);
        // by hand: argmax at the masked positions
        using var _ = no_grad();
        var right = model.forward(batch.Inputs).argmax(-1).eq(batch.Targets).logical_and(batch.LossMask!);
        Assert.Equal(right.sum().item<long>() / (4.0 * 5), score.TokenAccuracy, 12);
        Assert.Equal(right.sum(1).eq(5).to(float64).mean().item<double>(), score.ExactMatch, 12);
    }
}
