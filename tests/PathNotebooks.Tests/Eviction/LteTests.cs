using PathNotebooks.DeltaNet;
using PathNotebooks.Eviction;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Tests.Eviction;

/// <summary>LTE: the index sets, the straight-through gradient, the fixed-size cache and its rule, decoding against the
/// capped forward, the λ controller, and the errors for bad settings.</summary>
[Collection("torch")]
public class LteTests
{
    static Tensor Scores(int b, int h, int t, int seed) =>
        randn(new long[] { b, h, t }, dtype: float64, generator: new Generator((ulong)seed)) * 0.2;

    [Theory]
    [InlineData(1, 1, 1, 6, 0, null)]
    [InlineData(2, 3, 29, 6, 4, null)]
    [InlineData(2, 3, 29, 6, 4, 4)]
    [InlineData(2, 2, 31, 7, 2, 5)]
    [InlineData(1, 2, 40, 9, 0, 3)]
    [InlineData(1, 1, 17, 30, 3, 4)]                      // window longer than the sequence
    public void MaskIsTheIndexSetOfTheDefinition(int b, int h, int t, int window, int sinks, int? buffer)
    {
        var r = Scores(b, h, t, seed: t + window);
        var fast = KeptSet.Visible(r, window, sinks, buffer);
        var slow = KeptSet.VisibleByDefinition(r, window, sinks, buffer);
        Assert.True(fast.eq(slow).all().item<bool>(), $"T={t} W={window} s={sinks} b={buffer}");
        // every query sees itself and the sinks, nothing in the future, and with a buffer at most W + b keys
        var count = fast.to(int64).sum(dim: -1);
        if (buffer is int cap) Assert.True(count.le(window + cap).all().item<bool>());
        Assert.True(fast.triu(1).any().item<bool>() == false);
        Assert.True(fast.diagonal(dim1: -2, dim2: -1).all().item<bool>());
    }

    [Fact]
    public void KeptColumnsAreWholeColumns()
    {
        // without a buffer a kept token is visible to every later query: the "A + column" pattern
        var r = Scores(1, 1, 24, seed: 3);
        var visible = KeptSet.Visible(r, window: 6, sinks: 2)[0, 0];
        for (int j = 2; j < 24; j++)
            if (r[0, 0, j].item<double>() > 0)
                Assert.True(visible[j.., j].all().item<bool>(), $"column {j}");
            else if (j + 6 < 24)
                Assert.False(visible[(j + 6).., j].any().item<bool>(), $"column {j} should be dropped past the window");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(5)]
    public void MaskedSdpaMatchesTheReferenceInValueAndGradient(int? buffer)
    {
        manual_seed(11);
        Tensor Leaf(params long[] shape) => randn(shape, dtype: float64).requires_grad_(true);
        var (q, k, v, r) = (Leaf(2, 3, 27, 8), Leaf(2, 3, 27, 8), Leaf(2, 3, 27, 5), (0.2 * randn(2, 3, 27, dtype: float64)).requires_grad_(true));
        var grad = randn(2, 3, 27, 5, dtype: float64);
        Tensor[] Run(Func<Tensor, Tensor, Tensor, Tensor, Tensor> op)
        {
            var inputs = new[] { q, k, v, r }.Select(x => x.detach().clone().requires_grad_(true)).ToArray();
            var y = op(inputs[0], inputs[1], inputs[2], inputs[3]);
            (y * grad).sum().backward();
            return new[] { y }.Concat(inputs.Select(x => x.grad!)).ToArray();
        }
        var fast = Run((a, b, c, d) => LteAttentionOps.Masked(a, b, c, d, window: 6, sinks: 2, buffer));
        var slow = Run((a, b, c, d) => LteAttentionOps.Reference(a, b, c, d, window: 6, sinks: 2, buffer));
        string[] names = { "output", "dq", "dk", "dv", "dr" };
        for (int i = 0; i < names.Length; i++)
            Assert.True(Compare.RelativeError(fast[i], slow[i]) < 1e-12, $"{names[i]}: {Compare.RelativeError(fast[i], slow[i]):E2}");
    }

    [Fact]
    public void StraightThroughGivesTheScoreTheStatedGradient()
    {
        // L = ⟨G, P·v′⟩ with v′ = v forward: ∂L/∂v′ = PᵀG, so the stated gradient is dr_j = Σ_d (PᵀG)_jd · v_jd
        manual_seed(12);
        var q = randn(1, 2, 19, 4, dtype: float64);
        var k = randn(1, 2, 19, 4, dtype: float64);
        var v = randn(1, 2, 19, 3, dtype: float64);
        var r = (0.2 * randn(1, 2, 19, dtype: float64)).requires_grad_(true);
        var g = randn(1, 2, 19, 3, dtype: float64);
        var y = LteAttentionOps.Reference(q, k, v, r, window: 6, sinks: 1);
        Assert.True(Compare.RelativeError(y, LteAttentionOps.Reference(q, k, v, r.detach(), 6, 1)) == 0);   // values unchanged forward
        (y * g).sum().backward();
        var visible = KeptSet.VisibleByDefinition(r.detach(), 6, 1);
        var p = (q.matmul(k.transpose(-2, -1)) / 2.0).masked_fill(visible.logical_not(), double.NegativeInfinity).softmax(-1);
        var expected = (p.transpose(-2, -1).matmul(g) * v).sum(dim: -1);
        Assert.True(Compare.RelativeError(r.grad!, expected) < 1e-12);
        Assert.True(r.grad!.abs().max().item<double>() > 1e-3, "the scorer must get a non-zero gradient");
    }

    /// <summary>The buffer rule written out on lists: what the cache must keep after each token.</summary>
    static List<long> KeptByRule(double[] scores, int t, int window, int buffer, int sinks)
    {
        var kept = new List<(long Position, double Score)>();
        for (long leaving = 0; leaving <= t - window; leaving++)
        {
            double r = scores[leaving];
            if (leaving < sinks) { kept.Add((leaving, double.PositiveInfinity)); continue; }
            if (!(r > 0) || buffer == sinks) continue;
            var free = kept.Where(x => x.Position >= sinks).ToList();
            if (free.Count < buffer - sinks) { kept.Add((leaving, r)); continue; }
            double low = free.Min(x => x.Score);
            var lowest = free.Where(x => x.Score == low).MaxBy(x => x.Position);      // ties: the later token goes first
            if (r > lowest.Score) { kept.Remove(lowest); kept.Add((leaving, r)); }
        }
        return kept.Select(x => x.Position).Order().ToList();
    }

    [Theory]
    [InlineData(6, 5, 2)]
    [InlineData(6, 2, 2)]
    [InlineData(8, 4, 0)]
    [InlineData(6, 3, 1)]
    public void CacheNeverExceedsItsCapacityAndEvictsByTheRule(int window, int buffer, int sinks)
    {
        // crafted scores: negatives (never kept), a rising run, a falling run, ties, a late high score
        double[] scores = { 0.4, -0.1, 0.2, 0.3, -0.3, 0.1, 0.45, 0.05, 0.3, 0.3, -0.2, 0.25, 0.44, 0.01, 0.2, 0.49, -0.4, 0.15, 0.35, 0.02, 0.3, 0.1 };
        int t = scores.Length;
        using var state = new LteState(1, window, buffer, sinks);
        var input = tensor(scores, float64).view(1, 1, t, 1);
        for (int step = 0; step < t; step++)
        {
            state.Append(zeros(1, 1, 2, dtype: float64), zeros(1, 1, 2, dtype: float64), input[.., .., step],
                (segment, first) => segment[.., .., .., 0]);                 // the scorer input is the crafted score itself
            var held = state.Held()[0, 0].item<long>();
            Assert.True(held <= window + buffer, $"step {step}: {held} tokens held");
            Assert.Equal(Math.Min(step + 1, window) + Math.Min(KeptByRule(scores, step, window, buffer, sinks).Count, buffer), held);
            var positions = state.KeptPositions![0, 0].data<long>().Where(p => p >= 0).Order().ToList();
            Assert.Equal(KeptByRule(scores, step, window, buffer, sinks), positions);
        }
        long bytes = state.Bytes;
        Assert.Equal(bytes, new LteSpec { Window = window, Buffer = buffer, Sinks = sinks }.StateBytes(new MixerDimensions(2, 1), 1, t, float64)
            - 13L * 4 * 8 + 13L * 1 * 8);                                        // the test's scorer input has 1 channel, not 2·D = 4
    }

    static CausalLM LteModel(EvictionPolicy policy, int seed)
    {
        var spec = new LteSpec { Window = 7, Buffer = 6, Sinks = 2 };
        var config = new ModelConfig { VocabSize = 11, DModel = 12, Heads = 3, Layers = 2, InitStd = 0.3,
            Mixers = new LayerPattern(new GatedDeltaNetSpec { ChunkSize = 4 }).Every(2, 1, spec) };
        manual_seed(seed);
        var model = new CausalLM(config);
        model.to(float64);
        model.eval();
        var lte = (LteAttention)model.Mixers[1];
        lte.Policy = policy;
        using (no_grad())                                                         // scores around 0: some tokens kept, some dropped
            foreach (var (name, p) in lte.Scorer.named_parameters()) if (name.StartsWith("projection.bias")) p.zero_();
        return model;
    }

    [Theory]
    [InlineData(EvictionPolicy.Learned)]
    [InlineData(EvictionPolicy.Recency)]
    public void CachedDecodeEqualsTheCappedFullForward(EvictionPolicy policy)
    {
        var model = LteModel(policy, seed: 21);
        var tokens = randint(0, 11, new long[] { 2, 37 }, generator: new Generator(22));
        var full = model.forward(tokens);
        using var state = model.NewDecodeState(2);
        var rows = new List<Tensor>();
        var held = new List<long>();
        for (int t = 0; t < 37; t++)
        {
            rows.Add(model.Step(tokens[.., t], state));
            held.Add(((LteState)state.Layers[1]).Held().max().item<long>());
        }
        double error = Compare.RelativeError(stack(rows, 1), full);
        Assert.True(error < 1e-10, $"relative error {error:E2}");
        Assert.True(held.Max() <= 7 + 6);
        var scores = ((LteAttention)model.Mixers[1]).Scores(model.Blocks[1].MixerInput(randn(2, 37, 12, dtype: float64)));
        Assert.True(scores.gt(0).any().item<bool>() && scores.le(0).any().item<bool>(), "the test needs both kept and dropped tokens");
        // the capped forward is what the cache sees; the uncapped one (training) differs once more than b − s candidates exist
        model.train();
        using (no_grad()) Assert.True(Compare.RelativeError(model.forward(tokens), full) > 1e-6);
    }

    [Fact]
    public void ControllerRaisesLambdaAboveTheTargetAndLowersItBelow()
    {
        var controller = new SparsityController(new SparsityControl { InitialLambda = 1e-3, UpdateEvery = 2 }, heads: 2, target: 10);
        for (int i = 0; i < 4; i++) controller.Observe(new[] { 20.0, 5.0 });
        Assert.Equal(2, controller.History.Count);
        Assert.Equal(1e-3 * 1.5 * 1.5, controller.Lambda[0], 12);
        Assert.Equal(1e-3 / 4, controller.Lambda[1], 12);
        for (int i = 0; i < 2; i++) controller.Observe(new[] { 9.8, 9.8 });     // the average moves, λ waits for it
        Assert.Throws<ArgumentException>(() => controller.Observe(new[] { 1.0 }));
    }

    [Fact]
    public void ControllerMovesTheKeptCountTowardsItsTargetOnAToyRun()
    {
        // one LTE layer on random tokens; it starts keeping every token, the target is a quarter of them
        int length = 32, target = 8;
        var spec = new LteSpec { Window = 6, Buffer = target, Sinks = 2, Controller = new SparsityControl { InitialLambda = 0.05, UpdateEvery = 2 } };
        var config = new ModelConfig { VocabSize = 16, DModel = 16, Heads = 2, Layers = 1, Mixers = spec };
        manual_seed(31);
        var model = new CausalLM(config);
        var lte = (LteAttention)model.Mixers[0];
        var data = new Generator(32);
        Trainer.Train(model, _ =>
        {
            var sequences = randint(0, 16, new long[] { 8, length + 1 }, generator: data);
            return Batch.NextToken(sequences, null);
        }, new TrainOptions { Steps = 80, LearningRate = 1e-2, LogEvery = 10 });
        var first = lte.Controller.History[0].Kept.Average();
        var last = lte.Controller.KeptAverage.Average();
        Assert.True(first > 0.9 * length, $"starts keeping every token: {first:F1} of {length}");
        Assert.True(last < 0.5 * length, $"kept {first:F1} → {last:F1}, target {target}");
        Assert.True(lte.Controller.History.Max(u => u.Lambda.Max()) > 0.05, "λ rose while too many tokens were kept");
    }

    [Fact]
    public void BadSettingsAndInputsGiveClearErrors()
    {
        var dims = new MixerDimensions(12, 3);
        var buffer = Assert.Throws<ArgumentOutOfRangeException>(() => new LteSpec { Buffer = 3, Sinks = 4 }.Check(dims));
        Assert.Equal("Buffer", buffer.ParamName);
        Assert.Contains("4 sinks", buffer.Message);
        Assert.Equal("Window", Assert.Throws<ArgumentOutOfRangeException>(() => new LteSpec { Window = 0 }).ParamName);
        Assert.Contains("look", Assert.Throws<ArgumentOutOfRangeException>(() => new LteSpec { Window = 5 }).Message);
        Assert.Equal("Sinks", Assert.Throws<ArgumentOutOfRangeException>(() => new LteSpec { Sinks = -1 }).ParamName);
        Assert.Equal("buffer", Assert.Throws<ArgumentOutOfRangeException>(() => new LteState(1, 6, 1, 2)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => KeptSet.Visible(zeros(1, 1, 4), 0, 0)).ParamName);
        var shape = Assert.Throws<ArgumentException>(() => KeptSet.Visible(zeros(1, 4), 6, 0));
        Assert.Contains("[B, H, T]", shape.Message);
        var q = zeros(1, 2, 5, 4);
        Assert.Contains("scores", Assert.Throws<ArgumentException>(() => LteAttentionOps.Masked(q, q, q, zeros(1, 2, 4), 6, 0)).Message);
        Assert.Contains("v", Assert.Throws<ArgumentException>(() => LteAttentionOps.Masked(q, q, zeros(1, 3, 5, 4), zeros(1, 2, 5), 6, 0)).ParamName);
        var mixer = new LteSpec { Window = 6, Buffer = 4 }.Create(dims);
        Assert.Contains("[B, T, DModel]", Assert.Throws<ArgumentException>(() => mixer.forward(zeros(1, 5, 10))).Message);
    }
}
