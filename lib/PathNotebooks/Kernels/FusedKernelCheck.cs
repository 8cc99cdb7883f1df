using PathNotebooks.Cuda;
using PathNotebooks.DeltaNet;
using PathNotebooks.Forgetting;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Kernels;

/// <summary>One case of <see cref="FusedKernelCheck"/>: relative errors against the float64 reference.</summary>
/// <param name="DType">"bf16" or "fp16"</param>
/// <param name="HeadDim">D</param>
/// <param name="Length">T</param>
/// <param name="Mode">"causal", "fox" (forget-gate bias), "fox fast" (a strongly forgetting gate, where block
/// skipping must engage) or "window W"</param>
/// <param name="Output">error of O</param>
/// <param name="DQ">error of dq</param>
/// <param name="DK">error of dk</param>
/// <param name="DV">error of dv</param>
/// <param name="DLogForget">error of d log f (FoX only)</param>
/// <param name="Passed">every error ≤ the tolerance and nothing NaN (the outputs were poisoned with NaN beforehand), and
/// for "fox fast" the backward skipped blocks at T ≥ 200 and the forward at T &gt; 3 query tiles</param>
/// <param name="SkippedForward">key blocks the forward skipped (FoX only)</param>
/// <param name="SkippedBackward">query blocks the backward skipped (FoX only)</param>
public sealed record FusedKernelCase(string DType, long HeadDim, long Length, string Mode,
    double Output, double DQ, double DK, double DV, double? DLogForget, bool Passed, long? SkippedForward = null, long? SkippedBackward = null);

/// <summary>One gated-delta-rule case of <see cref="FusedKernelCheck"/>: relative errors against the float64 recurrence.</summary>
/// <param name="DType">"f32", "bf16" or "fp16"</param>
/// <param name="KeyDim">Dk</param>
/// <param name="ValueDim">Dv</param>
/// <param name="Length">T</param>
/// <param name="InitialState">whether the run started from a random state instead of zeros</param>
/// <param name="Output">error of O</param>
/// <param name="FinalState">error of the state after the last token</param>
/// <param name="Passed">both errors ≤ the tolerance and nothing NaN (outputs and work buffers poisoned with NaN beforehand)</param>
public sealed record FusedGdnCase(string DType, long KeyDim, long ValueDim, long Length, bool InitialState, double Output, double FinalState, bool Passed);

/// <summary>One gated-delta-rule gradient case of <see cref="FusedKernelCheck"/>: relative errors of every gradient against
/// autograd through the float64 recurrence.</summary>
/// <param name="DType">"f32", "bf16" or "fp16"</param>
/// <param name="KeyDim">Dk</param>
/// <param name="ValueDim">Dv</param>
/// <param name="Length">T</param>
/// <param name="InitialState">whether the run started from a random state (then its gradient is checked too)</param>
/// <param name="Errors">gradient name (dq, dk, dv, dg, dβ, dS₀) → relative error</param>
/// <param name="Passed">every error ≤ the tolerance and nothing NaN (gradients and work buffers poisoned with NaN beforehand)</param>
public sealed record FusedGdnGradientCase(string DType, long KeyDim, long ValueDim, long Length, bool InitialState,
    IReadOnlyDictionary<string, double> Errors, bool Passed);

/// <summary>
/// <c>pathnb check kernels</c>: every fused CUDA kernel (<see cref="FusedAttention"/>: causal, FoX bias with a mild
/// and a strongly forgetting gate — the second makes block skipping engage —, sliding window; forward and backward)
/// against the float64 reference on fresh random inputs — bf16 and fp16, D = 64 and 128,
/// lengths that are not multiples of the 64-row tile (1, 37, 200, 513) and one that is (64), gradients for q, k, v and
/// log f; and the gated delta rule's kernels (<see cref="FusedGatedDeltaRule"/>: <see cref="RunGatedDeltaRule"/> for the
/// forward, <see cref="RunGatedDeltaRuleGradients"/> for the backward). Every output buffer is filled with NaN before
/// the kernels run, so an element a kernel does not write fails.
/// </summary>
public static class FusedKernelCheck
{
    /// <summary>The largest relative error that passes (bf16 inputs round at 2⁻⁸ ≈ 4e−3 per element).</summary>
    public const double Tolerance = 1e-2;

    /// <summary>The lengths every configuration runs.</summary>
    public static IReadOnlyList<long> Lengths { get; } = new long[] { 1, 37, 64, 200, 513 };

    /// <summary>Runs every case on <paramref name="device"/> (CUDA); <paramref name="log"/> gets one line per case.</summary>
    public static IReadOnlyList<FusedKernelCase> Run(Device device, int seed, Action<string>? log = null, CudaKernelHost? host = null)
    {
        var cases = new List<FusedKernelCase>();
        var generator = new Generator((ulong)seed);                 // inputs are drawn on the CPU: the same for every GPU
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var d in FusedAttention.HeadDims)
                foreach (var t in Lengths)
                    foreach (var mode in new[] { "causal", "fox", "fox fast", "window" })
                    {
                        using var scope = NewDisposeScope();
                        int window = mode == "window" ? (t > 20 ? 17 : 1) : 0;
                        var c = Case(dtype, d, t, mode, window, generator, device, host);
                        cases.Add(c);
                        log?.Invoke($"{(c.Passed ? "ok  " : "FAIL")} {c.DType} D={c.HeadDim,-3} T={c.Length,-4} {c.Mode,-10} o {c.Output:E2}  dq {c.DQ:E2}  dk {c.DK:E2}  dv {c.DV:E2}"
                            + (c.DLogForget is { } e ? $"  dlogf {e:E2}  skipped {c.SkippedForward} / {c.SkippedBackward}" : ""));
                    }
        return cases;
    }

    /// <summary>
    /// Every fused gated-delta-rule kernel (<see cref="FusedGatedDeltaRule"/>: float32, bf16 and fp16, every (Dk, Dv)
    /// pair, <see cref="Lengths"/>, and a random initial state at T = 37) against <see cref="GatedDeltaRule.Recurrent"/> in
    /// float64 on the same rounded inputs: unit keys and queries, g = log σ(·) ≤ 0, β ∈ (0, 2). The forward: output and
    /// final state (<see cref="RunGatedDeltaRuleGradients"/> checks the backward).
    /// </summary>
    public static IReadOnlyList<FusedGdnCase> RunGatedDeltaRule(Device device, int seed, Action<string>? log = null, CudaKernelHost? host = null)
    {
        var generator = new Generator((ulong)seed + 1);
        return GdnCases(FusedGatedDeltaRule.HeadDims, (dtype, dk, dv, t, initial) => GdnCase(dtype, dk, dv, t, initial, generator, device, host),
            c => $"{(c.Passed ? "ok  " : "FAIL")} gdn {c.DType,-4} Dk={c.KeyDim,-3} Dv={c.ValueDim,-3} T={c.Length,-4} {(c.InitialState ? "h0" : "  ")} o {c.Output:E2}  state {c.FinalState:E2}",
            log);
    }

    /// <summary>Every gated-delta-rule case: three dtypes × <paramref name="pairs"/> × <see cref="Lengths"/>, and a random
    /// initial state at T = 37; each in its own dispose scope, one line logged per case.</summary>
    static List<T> GdnCases<T>(IEnumerable<(long Dk, long Dv)> pairs, Func<ScalarType, long, long, long, bool, T> run, Func<T, string> describe,
        Action<string>? log)
    {
        var cases = new List<T>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var (dk, dv) in pairs)
                foreach (var (t, initial) in Lengths.Select(t => (t, false)).Append((37L, true)))
                {
                    using var scope = NewDisposeScope();
                    var c = run(dtype, dk, dv, t, initial);
                    cases.Add(c);
                    log?.Invoke(describe(c));
                }
        return cases;
    }

    /// <summary>
    /// The gated-delta-rule backward kernels (<see cref="FusedGatedDeltaRule.Output"/> with gradients: float32, bf16 and fp16,
    /// every pair of <see cref="FusedGatedDeltaRule.BackwardHeadDims"/>, <see cref="Lengths"/>, and a random initial state at
    /// T = 37) against autograd through <see cref="GatedDeltaRule.Recurrent"/> in float64 on the same rounded inputs, for a
    /// random upstream gradient of the output.
    /// </summary>
    public static IReadOnlyList<FusedGdnGradientCase> RunGatedDeltaRuleGradients(Device device, int seed, Action<string>? log = null, CudaKernelHost? host = null)
    {
        var generator = new Generator((ulong)seed + 2);
        return GdnCases(FusedGatedDeltaRule.BackwardHeadDims, (dtype, dk, dv, t, initial) => GdnGradientCase(dtype, dk, dv, t, initial, generator, device, host),
            c => $"{(c.Passed ? "ok  " : "FAIL")} gdn backward {c.DType,-4} Dk={c.KeyDim,-3} Dv={c.ValueDim,-3} T={c.Length,-4} {(c.InitialState ? "h0" : "  ")} "
                 + string.Join("  ", c.Errors.Select(e => $"{e.Key} {e.Value:E2}")),
            log);
    }

    static FusedGdnGradientCase GdnGradientCase(ScalarType dtype, long dk, long dv, long t, bool initial, Generator generator, Device device, CudaKernelHost? host)
    {
        var (q, k, v, g, beta, h0) = GdnInputs(dtype, dk, dv, t, initial, generator, device);
        var dO = randn(new long[] { GdnBatch, GdnHeads, t, dv }, dtype: ScalarType.Float64, generator: generator).to(device).to(dtype);
        Tensor[] Leaves(Func<Tensor, Tensor> cast, bool normaliseKeys)
        {
            var list = new List<Tensor> { cast(q), normaliseKeys ? F.normalize(cast(k), p: 2, dim: -1) : cast(k), cast(v), cast(g), cast(beta) };
            if (h0 is not null) list.Add(cast(h0));
            return list.Select(x => x.detach().requires_grad_(true)).ToArray();
        }
        var fused = Leaves(x => x, normaliseKeys: false);
        var o = FusedGatedDeltaRule.OutputWithPoisonedBuffers(fused[0], fused[1], fused[2], fused[3], fused[4], h0 is null ? null : fused[5], host);
        (o * dO).sum().backward();
        // The reference: float64 on the rounded values, keys renormalised there (as for the forward check).
        var reference = Leaves(x => x.to(ScalarType.Float64), normaliseKeys: true);
        var (refOut, _) = GatedDeltaRule.Recurrent(reference[0], reference[1], reference[2], reference[3], reference[4], h0 is null ? null : reference[5]);
        (refOut * dO.to(ScalarType.Float64)).sum().backward();
        var names = new[] { "dq", "dk", "dv", "dg", "dβ", "dS₀" };
        var errors = new Dictionary<string, double>();
        for (int i = 0; i < fused.Length; i++) errors[names[i]] = Error(fused[i].grad!, reference[i].grad!);
        bool passed = errors.Values.All(e => !double.IsNaN(e) && e <= Tolerance);
        return new FusedGdnGradientCase(FusedGatedDeltaRule.DTypeTag(dtype), dk, dv, t, initial, errors, passed);
    }

    const long GdnBatch = 2, GdnHeads = 3;

    /// <summary>Random gated-delta-rule inputs as the layer makes them: unit q and k in <paramref name="dtype"/>, v, log α =
    /// log σ(N(3, 1)) (mostly near 0, some strong decay) and β ∈ (0, 2) in float32, and a float32 initial state when asked.</summary>
    static (Tensor Q, Tensor K, Tensor V, Tensor LogDecay, Tensor Beta, Tensor? InitialState) GdnInputs(ScalarType dtype, long dk, long dv, long t,
        bool initial, Generator generator, Device device)
    {
        const long b = GdnBatch, h = GdnHeads;
        Tensor Draw(params long[] shape) => randn(shape, dtype: ScalarType.Float64, generator: generator).to(device);
        var q = F.normalize(Draw(b, h, t, dk), p: 2, dim: -1).to(dtype);
        var k = F.normalize(Draw(b, h, t, dk), p: 2, dim: -1).to(dtype);
        var v = Draw(b, h, t, dv).to(dtype);
        var g = F.logsigmoid(Draw(b, h, t) + 3).to(ScalarType.Float32);
        var beta = (2 * Draw(b, h, t).sigmoid()).to(ScalarType.Float32);
        var h0 = initial ? Draw(b, h, dk, dv).to(ScalarType.Float32) : null;
        return (q, k, v, g, beta, h0);
    }

    static FusedGdnCase GdnCase(ScalarType dtype, long dk, long dv, long t, bool initial, Generator generator, Device device, CudaKernelHost? host)
    {
        var (q, k, v, g, beta, h0) = GdnInputs(dtype, dk, dv, t, initial, generator, device);
        Tensor o, state;
        using (no_grad()) (o, state) = FusedGatedDeltaRule.ForwardWithPoisonedOutputs(q, k, v, g, beta, h0, host);
        // The reference on the rounded values in float64, its keys renormalised there: bf16 rounding moves a unit row off
        // the sphere by up to ~2⁻⁸, more than the recurrence's unit-key check allows in float64.
        static Tensor F64(Tensor x) => x.to(ScalarType.Float64);
        var (refOut, refState) = GatedDeltaRule.Recurrent(F64(q), F.normalize(F64(k), p: 2, dim: -1), F64(v), F64(g), F64(beta), h0 is null ? null : F64(h0));
        double eo = Error(o, refOut), es = Error(state, refState);
        bool passed = !double.IsNaN(eo) && !double.IsNaN(es) && eo <= Tolerance && es <= Tolerance;
        return new FusedGdnCase(FusedGatedDeltaRule.DTypeTag(dtype), dk, dv, t, initial, eo, es, passed);
    }

    static FusedKernelCase Case(ScalarType dtype, long d, long t, string mode, int window, Generator generator, Device device, CudaKernelHost? host)
    {
        bool gated = mode.StartsWith("fox"), fast = mode == "fox fast";
        const long b = 1, h = 3;
        Tensor Draw(params long[] shape) => randn(shape, dtype: ScalarType.Float64, generator: generator).to(device);
        var q = Draw(b, h, t, d).to(dtype);
        var k = Draw(b, h, t, d).to(dtype);
        var v = Draw(b, h, t, d).to(dtype);
        // log f: mostly near 0 ("fox"), or about −1.4 per token ("fox fast": a key is negligible ~80 tokens later).
        var gate = gated ? F.logsigmoid(Draw(b, h, t) * 2 + (fast ? -1 : 2)).to(ScalarType.Float32) : null;
        var dO = Draw(b, h, t, d).to(dtype);

        // The kernel on the half-precision inputs; the reference on the same (rounded) values in float64.
        var (qh, kh, vh) = (q.requires_grad_(), k.requires_grad_(), v.requires_grad_());
        var gh = gate?.requires_grad_();
        var skipped = zeros(2, dtype: ScalarType.Int32, device: device);
        var o = FusedAttention.ForwardWithPoisonedOutputs(qh, kh, vh, gh, window, host, skipped);
        o.backward(new[] { dO });
        long skippedForward = skipped[0].item<int>(), skippedBackward = skipped[1].item<int>();
        var (q64, k64, v64) = (q.detach().to(ScalarType.Float64).requires_grad_(), k.detach().to(ScalarType.Float64).requires_grad_(), v.detach().to(ScalarType.Float64).requires_grad_());
        var g64 = gate?.detach().to(ScalarType.Float64).requires_grad_();
        var reference = gated ? ForgettingAttentionNaive.Forward(q64, k64, v64, g64!)
            : SwaKernels.Explicit(q64, k64, v64, window > 0 ? window : (int)t);
        reference.backward(new[] { dO.to(ScalarType.Float64) });

        double eo = Error(o, reference), eq = Error(qh.grad!, q64.grad!), ek = Error(kh.grad!, k64.grad!), ev = Error(vh.grad!, v64.grad!);
        double? eg = gated ? Error(gh!.grad!, g64!.grad!) : null;
        var errors = new[] { eo, eq, ek, ev, eg ?? 0 };
        // The forward can skip only key blocks wholly before its query tile (128 queries at D = 64, so at T = 200 just
        // one block of one tile): demand forward skips only past three tiles.
        bool skippedWhereExpected = !fast || ((t < 200 || skippedBackward > 0) && (t <= 3 * FusedAttention.ForwardQueryTile(d) || skippedForward > 0));
        bool passed = errors.All(e => !double.IsNaN(e) && e <= Tolerance) && skippedWhereExpected;
        return new FusedKernelCase(dtype == ScalarType.BFloat16 ? "bf16" : "fp16", d, t, gated ? mode : window > 0 ? $"window {window}" : "causal",
            eo, eq, ek, ev, eg, passed, gated ? skippedForward : null, gated ? skippedBackward : null);
    }

    /// <summary>
    /// ‖a − b‖ / max(‖b‖, 10⁻³·√n): relative error, where a reference that is exactly zero (dq and dk at T = 1, whose
    /// softmax over one key has no gradient) is measured on the scale of one element instead. NaN when a holds a NaN.
    /// </summary>
    public static double Error(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.detach().to(ScalarType.Float64);
        var e = expected.detach().to(ScalarType.Float64);
        if (a.isnan().any().item<bool>()) return double.NaN;
        double floor = 1e-3 * Math.Sqrt(e.numel());
        return (a - e).norm().item<double>() / Math.Max(e.norm().item<double>(), floor);
    }
}
