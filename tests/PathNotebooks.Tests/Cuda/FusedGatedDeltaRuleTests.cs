using PathNotebooks.Benchmarks;
using PathNotebooks.Checks;
using PathNotebooks.Cuda;
using PathNotebooks.DeltaNet;
using PathNotebooks.Kernels;
using PathNotebooks.Mixers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.Cuda;

/// <summary>
/// What the fused gated-delta-rule kernels need without a GPU: every entry point the wrapper launches exists in the
/// embedded source, the shared-memory sizes fit the GPUs they claim, bad arguments name the argument, the CPU is refused
/// with the reason, and forward-only variants are compared on values and timed forward only. The kernels' numbers are
/// checked on a GPU by <c>pathnb check kernels</c>.
/// </summary>
[Collection("torch")]
public class FusedGatedDeltaRuleTests
{
    static readonly CudaKernelHost NoGpu = CudaKernelHost.Create(false, [], new KernelCache(Path.Combine(Path.GetTempPath(), "pathnb-no-gpu")));

    [Fact]
    public void TheEmbeddedSourceHasEveryEntryPointTheWrapperLaunches()
    {
        var source = CudaKernelHost.Source(FusedGatedDeltaRule.SourceName);
        Assert.Contains(FusedGatedDeltaRule.SourceName, CudaKernelHost.SourceNames());
        foreach (var stage in new[] { "prepare", "sweep", "output" })
            Assert.Contains($"pn_gdn_{stage}_##TAG##_k##DK##_v##DV(", source);
        foreach (var (tag, code) in new[] { ("f32", 0), ("bf16", 1), ("fp16", 2) })
            Assert.Contains($"PN_GDN_ENTRIES({tag}, {code}, DK, DV)", source);
        foreach (var (dk, dv) in FusedGatedDeltaRule.HeadDims)
            Assert.Contains($"PN_GDN_DTYPES({dk}, {dv})", source);
        foreach (var stage in new[] { "dlocal", "dsweep", "dchunk" })
            Assert.Contains($"pn_gdn_{stage}_##TAG##_k##DK##_v##DV(", source);
        foreach (var (dk, dv) in FusedGatedDeltaRule.BackwardHeadDims)
            Assert.Contains($"PN_GDN_BACKWARD({dk}, {dv})", source);
        Assert.All(FusedGatedDeltaRule.BackwardHeadDims, pair => Assert.Contains(pair, FusedGatedDeltaRule.HeadDims));
        var names = FusedGatedDeltaRule.EntryNames().ToList();
        Assert.Equal(3 * 3 * (FusedGatedDeltaRule.HeadDims.Count + FusedGatedDeltaRule.BackwardHeadDims.Count), names.Distinct().Count());
        Assert.Contains("pn_gdn_dchunk_fp16_k32_v64", names);
        Assert.Contains("pn_gdn_sweep_bf16_k64_v64", names);
        Assert.Equal("pn_gdn_output_f32_k32_v64", FusedGatedDeltaRule.EntryName("output", ScalarType.Float32, 32, 64));
    }

    [Fact]
    public void SharedMemoryFitsAHopperBlockAndIsRefusedWhereItDoesNot()
    {
        // The sizes the kernels carve their shared memory into (see the source's entry-point comment).
        Assert.Equal(4 * (64 * 68 + 64 * 68 + 64 * 136 + 128), FusedGatedDeltaRule.PrepareSharedBytes(64, 64));
        Assert.Equal(4 * (2 * 64 * 68 + 2 * 64 * 40 + 128 + 64 * 72 + 64 * 40) + 2 * 64 * 64 * 2, FusedGatedDeltaRule.SweepSharedBytes(64, ScalarType.BFloat16));
        Assert.Equal(4 * (2 * 64 * 68 + 64 * 68 + 64 * 72 + 64 * 72 + 64), FusedGatedDeltaRule.OutputSharedBytes(64, 64));
        const int hopper = 227 * 1024;
        foreach (var (dk, dv) in FusedGatedDeltaRule.HeadDims)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                int needed = Math.Max(Math.Max(FusedGatedDeltaRule.PrepareSharedBytes(dk, dv), FusedGatedDeltaRule.SweepSharedBytes(dk, dtype)),
                    FusedGatedDeltaRule.OutputSharedBytes(dk, dv));
                Assert.True(needed <= hopper, $"(Dk, Dv) = ({dk}, {dv}), {dtype}: {needed} bytes");
            }
        Assert.Equal(4 * (2 * 64 * 33 + 64 * 65 + 64 * 33 + 64), FusedGatedDeltaRule.LocalGradientSharedBytes(32, 32));
        Assert.Equal(4 * (3 * 64 * 65 + 2 * 64 * 33 + 64 * 33), FusedGatedDeltaRule.SweepGradientSharedBytes(64));
        Assert.Equal(4 * (3 * 64 * 65 + 3 * 64 * 65 + 64 * 129 + 2 * 64 * 65 + 2 * 64 * 65 + 4 * 64 + 128), FusedGatedDeltaRule.ChunkGradientSharedBytes(64, 64));
        foreach (var (dk, dv) in FusedGatedDeltaRule.BackwardHeadDims)
        {
            int needed = Math.Max(Math.Max(FusedGatedDeltaRule.LocalGradientSharedBytes(dk, dv), FusedGatedDeltaRule.SweepGradientSharedBytes(dk)),
                FusedGatedDeltaRule.ChunkGradientSharedBytes(dk, dv));
            Assert.True(needed <= hopper, $"backward (Dk, Dv) = ({dk}, {dv}): {needed} bytes");
        }
        // (128, 128) needs more than an sm_80 block's 163 KB: that is why WhyNot asks the device for its limit.
        Assert.True(FusedGatedDeltaRule.OutputSharedBytes(128, 128) > 163 * 1024);
    }

    [Fact]
    public void BadArgumentsNameTheArgumentAndTheShape()
    {
        using var scope = NewDisposeScope();
        var q = F.normalize(randn(1, 2, 5, 32), p: 2, dim: -1);
        var v = randn(1, 2, 5, 64);
        var g = -rand(1, 2, 5);
        var beta = rand(1, 2, 5);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(randn(2, 5, 32), q, v, g, beta)).ParamName);
        var k = Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, randn(1, 2, 6, 32), v, g, beta));
        Assert.Equal("k", k.ParamName);
        Assert.Contains("[B, H, T, Dk]", k.Message);
        Assert.Equal("v", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, q, randn(1, 2, 4, 64), g, beta)).ParamName);
        Assert.Equal("logDecay", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, q, v, zeros(1, 2, 4), beta)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, q, v, g, zeros(1, 5))).ParamName);
        Assert.Equal("initialState", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, q, v, g, beta, zeros(1, 2, 64, 32))).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Forward(q, q.to(ScalarType.Float64), v, g, beta)).ParamName);
        // Well-formed CPU inputs: refused with the reason, which WhyNot gives without throwing.
        Assert.Contains("run on CUDA", FusedGatedDeltaRule.WhyNot(q, v));
        Assert.Contains("run on CUDA", Assert.Throws<NotSupportedException>(() => FusedGatedDeltaRule.Forward(q, q, v, g, beta)).Message);
        Assert.Contains("float32, bf16 or fp16", FusedGatedDeltaRule.WhyNot(DeviceType.CUDA, ScalarType.Float64, 64, 64, NoGpu));
        var dims = FusedGatedDeltaRule.WhyNot(DeviceType.CUDA, ScalarType.BFloat16, 64, 32, NoGpu);
        Assert.Contains("(Dk, Dv) = (64, 32)", dims);
        Assert.Contains("(64, 128)", dims);
        Assert.Contains("fused CUDA kernels: off", FusedGatedDeltaRule.WhyNot(DeviceType.CUDA, ScalarType.BFloat16, 64, 64, NoGpu));
        // The differentiable entry checks the same way, and the backward's reasons come first from the forward's.
        Assert.Equal("v", Assert.Throws<ArgumentException>(() => FusedGatedDeltaRule.Output(q, q, randn(1, 2, 4, 64), g, beta)).ParamName);
        Assert.Contains("run on CUDA", Assert.Throws<NotSupportedException>(() => FusedGatedDeltaRule.Output(q, q, v, g, beta)).Message);
        Assert.Contains("run on CUDA", FusedGatedDeltaRule.WhyNotBackward(q, v));
    }

    [Fact]
    public void TheLayerUsesTheFusedForwardByDefaultAndRunsItsTorchSharpFormOnTheCpu()
    {
        Assert.True(new GatedDeltaNetSpec().FusedForward);
        Assert.False(new GatedDeltaNetSpec().FusedBackward);                      // opt-in: slow at large shapes
        var dims = new MixerDimensions(32, 2);
        PathNotebooks.Runtime.TorchRuntime.Seed(5);
        using var on = new GatedDeltaNet(new GatedDeltaNetSpec(), dims);
        PathNotebooks.Runtime.TorchRuntime.Seed(5);
        using var off = new GatedDeltaNet(new GatedDeltaNetSpec { FusedForward = false }, dims);
        var x = randn(new long[] { 2, 9, 32 }, generator: new Generator(6));
        using var _ = no_grad();
        Assert.Equal(0.0, (on.forward(x) - off.forward(x)).abs().max().item<float>());
    }

    [Fact]
    public void ForwardOnlyVariantsAreComparedOnValuesAndTimedForwardOnly()
    {
        var gdn = KernelRegistry.Get("gdn");
        var fused = gdn.Variants.Single(v => v.Name == "gdn fused (cuda)");
        Assert.True(fused.ForwardOnly);
        Assert.All(gdn.Variants.Where(v => v != fused), v => Assert.False(v.ForwardOnly));
        Assert.Contains(gdn.Variants, v => v.Name == "gdn fused fwd+bwd (cuda)");

        // A forward-only stand-in (the chunked form run without gradients) passes the registry property on its values…
        var chunked = gdn.Variants[0];
        var valuesOnly = new KernelVariant("gdn chunked, forward only", i => { using var _ = no_grad(); return chunked.Forward(i); }, ForwardOnly: true);
        var good = OpProperties.RegistryLike(gdn, new[] { valuesOnly }).Run(PropertyTarget.For(CPU), new PropertyBudget(Cases: 20, Seconds: 30));
        Assert.True(good.Passed, good.Failure);
        // …and a wrong one fails it.
        var wrong = new KernelVariant("gdn chunked ×1.01, forward only", i => { using var _ = no_grad(); return chunked.Forward(i) * 1.01; }, ForwardOnly: true);
        var bad = OpProperties.RegistryLike(gdn, new[] { wrong }).Run(PropertyTarget.For(CPU), new PropertyBudget(Cases: 50, Seconds: 30));
        Assert.False(bad.Passed, "a forward-only variant 1 % off passed");

        // The benchmark times its forward and leaves forward+backward empty.
        var table = AttentionBenchmark.Run(new[] { new BenchShape(32, 1, 2, 8) }, new[] { valuesOnly }, iterations: 1, warmup: 0,
            dtype: ScalarType.Float32, inputs: gdn.Inputs);
        var rows = Enumerable.Range(0, (int)table.Rows.Count).Where(r => (string)table["kernel"][r] == valuesOnly.Name).ToList();
        Assert.Equal(2, rows.Count);
        double Ms(string pass) => (double)table["ms"][rows.Single(r => (string)table["pass"][r] == pass)];
        Assert.False(double.IsNaN(Ms("fwd")));
        Assert.True(double.IsNaN(Ms("fwd+bwd")));
    }
}
