using System.Text.RegularExpressions;
using PathNotebooks.Checks;
using PathNotebooks.DeltaNet;
using PathNotebooks.Forgetting;
using PathNotebooks.Kernels;
using PathNotebooks.PaTH;
using Xunit.Abstractions;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.Checks;

/// <summary>
/// The property suite at the CI budget (a fixed number of cases per property and a time cap; a failure prints the
/// shrunk case and the seed that replays it with <c>./pathnb check ops --only NAME --seed SEED</c>), plus the
/// out-of-domain calls the suite was written for and a deliberately broken op that it must catch and shrink.
/// </summary>
[Collection("torch")]
public class OpPropertyTests(ITestOutputHelper output)
{
    public static TheoryData<string> Properties()
    {
        var data = new TheoryData<string>();
        foreach (var p in OpProperties.All) data.Add(p.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Properties))]
    public void PropertyHoldsOnTheFixedCiCases(string name)
    {
        var outcome = OpProperties.Get(name).Run(PropertyTarget.For(CPU), PropertyBudget.Ci);
        output.WriteLine($"{name}: {outcome.Cases} cases in {outcome.Elapsed.TotalSeconds:F1} s");
        Assert.True(outcome.Passed, $"{name} failed:\n{outcome.Failure}");
        Assert.True(outcome.Cases >= 4, $"{name} ran only {outcome.Cases} cases within its cap");
    }

    /// <summary>The CI budget checks the same cases every run, and a failing one is replayed by the seed it prints.</summary>
    [Fact]
    public void CiCasesAreTheSameEveryRunAndAFailureReplaysFromItsSeed()
    {
        List<int> Drawn(Func<int, bool> ok, PropertyBudget budget, out PropertyOutcome outcome)
        {
            var drawn = new List<int>();
            var property = new OpProperty<int>("ints", "test", _ => CsCheck.Gen.Int[0, 1_000_000], (x, _) =>
            {
                drawn.Add(x);
                if (!ok(x)) throw new InvalidOperationException($"bad {x}");
            });
            outcome = property.Run(PropertyTarget.For(CPU), budget);
            return drawn;
        }
        var first = Drawn(_ => true, PropertyBudget.Ci, out var passed);
        Assert.True(passed.Passed);
        Assert.Equal(PropertyBudget.Ci.Cases, first.Count);
        Assert.Equal(first, Drawn(_ => true, PropertyBudget.Ci, out _));
        Assert.True(first.Distinct().Count() > first.Count / 2, "the fixed cases should differ from each other");

        int victim = first[5];
        Drawn(x => x != victim, PropertyBudget.Ci, out var failed);
        Assert.False(failed.Passed);
        Assert.Contains($"Fixed case 6 failed: {victim}", failed.Failure);
        var seed = Regex.Match(failed.Failure!, "Set seed: \"([^\"]+)\"").Groups[1].Value;
        var replayed = Drawn(x => x != victim, new PropertyBudget(Cases: 1, Seconds: 10, Seed: seed), out _);
        Assert.Equal(victim, replayed[0]);
    }

    [Fact]
    public void EveryRegisteredOpHasARegistryProperty() =>
        Assert.All(KernelRegistry.Ops, op => Assert.Contains(OpProperties.All, p => p.Name == $"registry {op.Name}"));

    /// <summary>
    /// A chunked gated delta rule with an off-by-one in its padding: it keeps ⌊T/C⌋ whole chunks and drops the ragged
    /// tail (its outputs stay zero). The registry property must catch it and shrink it to a short sequence whose length
    /// is not a multiple of C.
    /// </summary>
    [Fact]
    public void ABrokenChunkPaddingIsCaughtAndShrunk()
    {
        const int chunk = 4;
        var gdn = KernelRegistry.Get("gdn");
        var broken = new KernelVariant("gdn chunked, tail dropped (broken)", i =>
        {
            var q = F.normalize(i.Q, p: 2, dim: -1);
            var k = F.normalize(i.K, p: 2, dim: -1);
            long t = q.shape[2], kept = t / chunk * chunk;                                // the bug: ⌊T/C⌋ instead of ⌈T/C⌉ chunks
            var outputShape = new[] { q.shape[0], q.shape[1], t, i.V.shape[3] };
            if (kept == 0) return zeros(outputShape, dtype: i.V.dtype) * i.V.sum();      // still connected to the graph
            Tensor Head(Tensor x) => x.narrow(2, 0, kept);
            var (o, _) = GatedDeltaRule.Chunked(Head(q), Head(k), Head(i.V), Head(i.RequireLogForget), Head(i.RequireBeta), chunk);
            return kept == t ? o : cat(new[] { o, zeros(outputShape[0], outputShape[1], t - kept, outputShape[3], dtype: o.dtype) }, 2);
        });
        var property = OpProperties.RegistryLike(gdn, new[] { broken });
        var outcome = property.Run(PropertyTarget.For(CPU), new PropertyBudget(Cases: 300, Seconds: 60));
        output.WriteLine(outcome.Failure ?? "(no failure)");
        Assert.False(outcome.Passed, "the broken op passed the property");
        var shrunk = Regex.Match(outcome.Failure!, @"B=(\d+) H=(\d+) T=(\d+) D=(\d+) Dv=(\d+)");
        Assert.True(shrunk.Success, outcome.Failure);
        int length = int.Parse(shrunk.Groups[3].Value);
        Assert.NotEqual(0, length % chunk);
        Assert.True(length < 2 * chunk, $"shrunk to T = {length}, expected a sequence shorter than two chunks");
        Assert.Contains("Set seed", outcome.Failure);
    }

    /// <summary>The calls the property suite was written for: out-of-domain input that used to give NaN or pass silently.</summary>
    [Fact]
    public void OutOfDomainCallsNameTheArgumentTheValueAndTheRange()
    {
        var g = new Generator(3);
        Tensor Normal(params long[] shape) => randn(shape, dtype: ScalarType.Float32, generator: g);
        (Tensor Q, Tensor K, Tensor V, Tensor W) Inputs(int t, int d) =>
            (Normal(1, 1, t, d), Normal(1, 1, t, d), Normal(1, 1, t, d), F.normalize(Normal(1, 1, t, d), p: 2, dim: -1));

        var (q, k, v, w) = Inputs(64, 8);
        var e = Assert.Throws<ArgumentException>(() => PathAttentionChunked.Forward(q, k, v, w, full(1, 1, 64, 2.5f), chunkSize: 16));
        Assert.Equal("beta", e.ParamName);
        Assert.Contains("[0, 2]", e.Message);
        Assert.Contains("2.5", e.Message);
        var (q2, k2, v2, w2) = Inputs(256, 8);
        Assert.Equal("beta", Assert.Throws<ArgumentException>(() => PathAttentionChunked.Forward(q2, k2, v2, w2, full(1, 1, 256, 4f), chunkSize: 16)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentException>(() => PathAttentionNaive.Forward(q2, k2, v2, w2, full(1, 1, 256, 4f))).ParamName);
        var notUnit = Assert.Throws<ArgumentException>(() => PathAttentionChunked.Forward(q, k, v, w * 2, ones(1, 1, 64), chunkSize: 16));
        Assert.Equal("w", notUnit.ParamName);
        Assert.Contains("row norm of 2", notUnit.Message);

        var mixed = Assert.Throws<ArgumentException>(() => PathAttentionChunked.Forward(q.to(ScalarType.Float64), k, v, w, ones(1, 1, 64)));
        Assert.Equal("k", mixed.ParamName);
        Assert.Contains("Float64", mixed.Message);

        var positive = Assert.Throws<ArgumentException>(() => ForgettingAttentionFast.Forward(q, k, v, full(1, 1, 64, 0.3f)));
        Assert.Equal("logForget", positive.ParamName);
        Assert.Contains("≤ 0", positive.Message);
        Assert.Equal("logForget", Assert.Throws<ArgumentException>(() => ForgettingAttentionNaive.Forward(q, k, v, full(1, 1, 64, float.NaN))).ParamName);

        var kUnit = F.normalize(k, p: 2, dim: -1);
        Assert.Equal("logDecay", Assert.Throws<ArgumentException>(() => GatedDeltaRule.Chunked(q, kUnit, v, full(1, 1, 64, 0.1f), ones(1, 1, 64))).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentException>(() => GatedDeltaRule.Chunked(q, k, v, zeros(1, 1, 64), ones(1, 1, 64))).ParamName);

        // In the domain, including its edges, the chunked form agrees with the naive one (β = 0 and 2 exactly).
        var edges = where(arange(64).remainder(3).eq(0), zeros(64), where(arange(64).remainder(3).eq(1), full(64, 2f), full(64, 1f))).view(1, 1, 64);
        var fast = PathAttentionChunked.Forward(q.to(ScalarType.Float64), k.to(ScalarType.Float64), v.to(ScalarType.Float64), w.to(ScalarType.Float64), edges.to(ScalarType.Float64), chunkSize: 16);
        var naive = PathAttentionNaive.Forward(q.to(ScalarType.Float64), k.to(ScalarType.Float64), v.to(ScalarType.Float64), w.to(ScalarType.Float64), edges.to(ScalarType.Float64));
        Assert.True(Compare.RelativeError(fast, naive) < 1e-10);
    }

    [Fact]
    public void TheTimeCapStopsNewCases()
    {
        var outcome = OpProperties.Get("registry path").Run(PropertyTarget.For(CPU), new PropertyBudget(Cases: 100_000, Seconds: 2));
        Assert.True(outcome.Passed, outcome.Failure);
        Assert.InRange(outcome.Cases, 1, 99_999);
        Assert.InRange(outcome.Elapsed.TotalSeconds, 1.9, 30);
    }
}
