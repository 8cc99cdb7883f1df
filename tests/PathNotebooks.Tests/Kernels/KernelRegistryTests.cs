using System.Diagnostics;
using PathNotebooks.Kernels;
using Xunit.Abstractions;

namespace PathNotebooks.Tests.Kernels;

/// <summary>Every registered variant of every op against its op's float64 reference, in value and in every gradient.</summary>
[Collection("torch")]
public class KernelRegistryTests(ITestOutputHelper output)
{
    /// <summary>
    /// Odd lengths: 37 (one chunk at every registered C), 70 (C = 64 leaves a ragged chunk of 6), and 520 = 512 + 8,
    /// which gives every registered chunk size (64 … 512) several chunks and a ragged last one.
    /// </summary>
    static readonly int[] Lengths = [37, 70, 520];
    const int Batch = 2, Heads = 2, HeadDim = 8;
    const double Tolerance = 1e-8;

    /// <summary>
    /// (op, variant) for every registered variant that runs on the CPU: a new variant is tested the day it is registered.
    /// The fused CUDA variants (a <see cref="KernelVariant.WhyNot"/>) are pinned on a GPU by <c>pathnb check kernels</c>;
    /// here <see cref="FusedVariantsSayWhyTheyDoNotRunOnTheCpu"/> checks that they refuse the CPU cleanly.
    /// </summary>
    public static TheoryData<string, string> Variants()
    {
        var data = new TheoryData<string, string>();
        foreach (var op in KernelRegistry.Ops)
            foreach (var variant in op.Variants.Where(v => v.WhyNot is null)) data.Add(op.Name, variant.Name);
        return data;
    }

    [Fact]
    public void FusedVariantsSayWhyTheyDoNotRunOnTheCpu()
    {
        var fused = KernelRegistry.Ops.SelectMany(o => o.Variants.Where(v => v.WhyNot is not null).Select(v => (Op: o, Variant: v))).ToList();
        Assert.Equal(new[] { "causal fused (cuda)", "fox fused (cuda)", "gdn fused (cuda)", "gdn fused fwd+bwd (cuda)", "swa fused (cuda)" }, fused.Select(f => f.Variant.Name));
        foreach (var (op, variant) in fused)
        {
            using var inputs = op.Inputs.Random(1, 2, 37, 64, CPU, ScalarType.Float32, seed: 1);
            Assert.Contains("CUDA", variant.Unsupported(inputs));
            var refused = Assert.Throws<NotSupportedException>(() => variant.Forward(inputs));
            Assert.Contains("run on CUDA", refused.Message);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void VariantMatchesReferenceInValueAndGradients(string opName, string variantName)
    {
        var op = KernelRegistry.Get(opName);
        var variant = op.Variants.Single(v => v.Name == variantName);
        var clock = Stopwatch.StartNew();
        foreach (int t in Lengths)
        {
            using var scope = NewDisposeScope();
            using var inputs = op.Inputs.Random(Batch, Heads, t, HeadDim, CPU, ScalarType.Float64, seed: t);
            var expected = Reference(op, t, inputs);
            var actual = ValueAndGradients(variant.Forward, inputs);
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var (name, reference) in expected)
            {
                Assert.Equal(ScalarType.Float64, actual[name].dtype);
                double error = Compare.RelativeError(actual[name], reference);
                Assert.True(error < Tolerance, $"{variantName}, T = {t}: {name} relative error {error:E2} ≥ {Tolerance:E0}");
            }
        }
        output.WriteLine($"{opName} / {variantName}: {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// The reference's value and gradients, computed once per op and length (the naive PaTH recurrence is the slow part
    /// of the theory): the inputs are a function of the seed, so every variant of an op sees the same ones.
    /// </summary>
    static Dictionary<string, Tensor> Reference(KernelOp op, int length, KernelInputs inputs)
    {
        lock (References)
        {
            if (!References.TryGetValue((op.Name, length), out var cached))
            {
                cached = ValueAndGradients(op.Reference, inputs);
                foreach (var tensor in cached.Values) tensor.DetachFromDisposeScope();
                References[(op.Name, length)] = cached;
            }
            return cached;
        }
    }

    static readonly Dictionary<(string Op, int Length), Dictionary<string, Tensor>> References = new();

    /// <summary>
    /// The output ("output") and d(output · G)/dx for every input x of the bundle the kernel reads, under one fixed
    /// random upstream gradient G; each call works on fresh leaves, so two kernels never share <c>.grad</c>. An input
    /// of the shared bundle that the kernel never reads (gdn draws PaTH's w with β) has no gradient and no entry; the
    /// caller's key comparison then demands that variant and reference read the same inputs.
    /// </summary>
    static Dictionary<string, Tensor> ValueAndGradients(Func<KernelInputs, Tensor> kernel, KernelInputs inputs)
    {
        var leaves = inputs.CloneAsLeaves();
        var o = kernel(leaves);
        var upstream = randn(o.shape, dtype: ScalarType.Float64, generator: new Generator(99)).to(o.dtype);
        (o * upstream).sum().backward();
        var result = new Dictionary<string, Tensor> { ["output"] = o.detach() };
        foreach (var (name, leaf) in leaves.Named)
            if (leaf.grad is { } grad) result["d" + name] = grad.detach().clone();
        if (result.Count == 1) throw new Xunit.Sdk.XunitException("the kernel has a gradient for none of its inputs");
        return result;
    }

    [Fact]
    public void RegistryHoldsTheBenchmarkedOpsAndVariants()
    {
        Assert.Equal(new[] { "sdpa", "path", "path-fox", "fox", "gdn", "swa", "nsa", "lte" }, KernelRegistry.Ops.Select(o => o.Name));
        Assert.Equal(new[] { "nsa batched (l=64, n=16, W=512)" }, KernelRegistry.Get("nsa").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "lte masked sdpa" }, KernelRegistry.Get("lte").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "swa blockwise", "swa dense mask", "swa fused (cuda)" }, KernelRegistry.Get("swa").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "sdpa (causal)", "causal fused (cuda)" }, KernelRegistry.Get("sdpa").Variants.Select(v => v.Name));
        Assert.Equal(new[]
        {
            "path chunked (C=64)", "path chunked (C=128)", "path chunked (C=256)", "path chunked (C=512)",
            "path chunked (C=256, block-inverse UT)",
        }, KernelRegistry.Get("path").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "path-fox chunked (C=256)", "path-fox chunked (C=512)" }, KernelRegistry.Get("path-fox").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "fox (auto)", "fox sdpa+mask", "fox chunked", "fox fused (cuda)" }, KernelRegistry.Get("fox").Variants.Select(v => v.Name));
        Assert.Equal(new[] { "gdn chunked (C=64)", "gdn chunked (C=128)", "gdn chunked scan (C=64)", "gdn chunked (C=64, one 64×64 solve)", "gdn fused (cuda)",
            "gdn fused fwd+bwd (cuda)" },
            KernelRegistry.Get("gdn").Variants.Select(v => v.Name));
        var all = KernelRegistry.Ops.SelectMany(o => o.Variants).Select(v => v.Name).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Same(KernelRegistry.Baseline, KernelRegistry.Get("sdpa").Variants[0]);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => KernelRegistry.Get("nope")).ParamName);
    }

    [Fact]
    public void RandomInputsFollowTheSpec()
    {
        using var x = KernelRegistry.Get("path-fox").Inputs.Random(2, 3, 11, 4, CPU, ScalarType.BFloat16, seed: 5);
        Assert.Equal(new[] { "q", "k", "v", "w", "beta", "logForget" }, x.Named.Select(p => p.Name));
        Assert.Equal(ScalarType.BFloat16, x.Q.dtype);
        Assert.Equal(ScalarType.Float32, x.W!.dtype);
        Assert.True(Compare.RelativeError(x.W.norm(dim: -1), ones(2, 3, 11)) < 1e-6);
        Assert.True((x.Beta! > 0).all().item<bool>() && (x.Beta! < 2).all().item<bool>());
        Assert.True((x.LogForget! <= 0).all().item<bool>());
        Assert.All(x.All, t => Assert.True(t.requires_grad && t.is_leaf));
        using var fox = KernelRegistry.Get("fox").Inputs.Random(1, 1, 3, 2, CPU, ScalarType.Float64);
        Assert.Null(fox.W);
        Assert.Equal(ScalarType.Float64, fox.LogForget!.dtype);
    }
}
