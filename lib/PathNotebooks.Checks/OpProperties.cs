using PathNotebooks.Eviction;
using TorchSharp;
using CsCheck;
using PathNotebooks.DeltaNet;
using PathNotebooks.Forgetting;
using PathNotebooks.Kernels;
using PathNotebooks.Mixers;
using PathNotebooks.PaTH;
using PathNotebooks.Positional;
using PathNotebooks.PositionalVectors;
using PathNotebooks.Softmax;
using PathNotebooks.Sparse;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Checks;

/// <summary>
/// Every public op of the kit as a property over random cases (see docs/domains.md): each case either matches the
/// op's float64 reference within the dtype's tolerance, in value and in every gradient, or raises the op's documented
/// error — never NaN or ∞ where the reference is finite.
/// </summary>
public static class OpProperties
{
    /// <summary>Longest T drawn: the float64 references are quadratic (PaTH's naive form also loops over positions).</summary>
    const int MaxLength = 140;

    /// <summary>Every property, registry ops first (a variant registered later is fuzzed the day it lands).</summary>
    public static IReadOnlyList<OpProperty> All { get; } =
        KernelRegistry.Ops.Select(Registry)
            .Concat(new[] { PathForms(), PathDecode(), FoxForms(), GdnForms(), GdnDecode(), SlidingWindow(), Sparse(), LteForms(),
                            HouseholderPieces(), RopeRotations(), Masks(), PositionalTools(), MixerDecode(), Tasks(), DomainErrors(), NanPropagates() })
            .ToArray();

    /// <summary>The property called <paramref name="name"/>; throws naming the known ones.</summary>
    public static OpProperty Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"unknown property '{name}' (known: {string.Join(", ", All.Select(p => p.Name))}).", nameof(name));

    /// <summary>A case of a registry op with the variant it runs.</summary>
    public sealed record VariantCase(OpCase Case, string Variant)
    {
        public override string ToString() => $"{Variant}: {Case}";
    }

    /// <summary>Edge values that mean something for the op's inputs.</summary>
    static EdgeValues[] EdgesFor(KernelInputSpec spec) =>
        new[] { EdgeValues.None }
            .Concat(spec.Transforms ? new[] { EdgeValues.BetaAtBounds } : [])
            .Concat(spec.LogForget ? new[] { EdgeValues.GatesNearZero, EdgeValues.GatesNearOne } : [])
            .ToArray();

    /// <summary>Every variant of a registered op against the op's float64 reference.</summary>
    public static OpProperty Registry(KernelOp op) => RegistryLike(op, op.Variants);

    /// <summary>The registry property over the given variants of <paramref name="op"/> (tests pass a deliberately broken one).</summary>
    public static OpProperty RegistryLike(KernelOp op, IReadOnlyList<KernelVariant> variants) => new OpProperty<VariantCase>(
        $"registry {op.Name}", $"{op.Name}: {string.Join(", ", variants.Select(v => v.Name))} against the float64 reference",
        target => from c in CaseGens.Case(target.DTypes, MaxLength, edges: EdgesFor(op.Inputs), minHeadDim: NormalisesKeys(op) ? 2 : 1)
                  from v in CaseGens.Among(variants.Select(x => x.Name).ToArray())
                  select new VariantCase(c, v),
        (x, target) =>
        {
            var variant = variants.Single(v => v.Name == x.Variant);
            using var inputs = x.Case.Inputs(op.Inputs, target.Device);
            if (variant.Unsupported(inputs) is not null) return;     // a fused CUDA variant off its domain: `pathnb check kernels` covers it
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(op.Reference, inputs64);
            if (variant.ForwardOnly)
            {
                // No backward: the value alone, computed without gradients.
                Tensor value;
                using (no_grad()) value = variant.Forward(inputs);
                AgreeTensor(value, expected["output"], Oracle.Tolerance(x.Case.DType, x.Case.Scale), variant.Name,
                    Oracle.NoiseFloor(new Dictionary<string, Tensor> { ["value"] = expected["output"] }, x.Case.DType));
                return;
            }
            var actual = Oracle.ValueAndGradients(variant.Forward, inputs);
            Oracle.Agree(actual, expected, Oracle.Tolerance(x.Case.DType, x.Case.Scale), variant.Name, Oracle.NoiseFloor(expected, x.Case.DType));
        });

    /// <summary>The gated delta rule's registry variants normalise q and k (see <see cref="CaseGens.Case"/>'s minHeadDim).</summary>
    static bool NormalisesKeys(KernelOp op) => op.Name == "gdn";

    /// <summary>A case with one op-specific integer (a chunk size, a window…) and a choice among a few forms.</summary>
    public sealed record FormCase(OpCase Case, int Size, int Form, bool Flag)
    {
        public override string ToString() => $"{Case} size={Size} form={Form} flag={Flag}";
    }

    static Gen<FormCase> Forms(PropertyTarget target, int forms, IReadOnlyList<EdgeValues> edges, bool valueDimDiffers = true, int minHeadDim = 1) =>
        from c in CaseGens.Case(target.DTypes, MaxLength, valueDimDiffers: valueDimDiffers, edges: edges, minHeadDim: minHeadDim)
        from size in Gen.Int[1, c.Length + 3]
        from form in Gen.Int[0, forms - 1]
        from flag in Gen.Bool
        select new FormCase(c, size, form, flag);

    static readonly KernelInputSpec PathInputs = new(Transforms: true, LogForget: true);

    static OpProperty PathForms() => new OpProperty<FormCase>("path forms",
        "PaTH and PaTH-FoX chunked (any chunk size, both UT inversions) and materialised against the naive float64 form",
        target => Forms(target, 3, new[] { EdgeValues.None, EdgeValues.BetaAtBounds, EdgeValues.GatesNearZero }),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(PathInputs, target.Device);
            bool fox = x.Flag;
            Tensor? LogF(KernelInputs i) => fox ? i.LogForget : null;
            var inverse = x.Form == 1 ? UnitLowerInverse.Blockwise : UnitLowerInverse.TriangularSolve;
            Func<KernelInputs, Tensor> op = x.Form == 2
                ? i => PathAttentionChunked.ForwardMaterialized(i.Q, i.K, i.V, i.RequireW, i.RequireBeta, LogF(i), x.Size)
                : i => PathAttentionChunked.Forward(i.Q, i.K, i.V, i.RequireW, i.RequireBeta, LogF(i), x.Size, inverse: inverse);
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(i => PathAttentionNaive.Forward(i.Q, i.K, i.V, i.RequireW, i.RequireBeta, LogF(i)), inputs64);
            Oracle.Agree(Without(Oracle.ValueAndGradients(op, inputs), fox ? null : "dlogForget"), Without(expected, fox ? null : "dlogForget"),
                Oracle.Tolerance(x.Case.DType, x.Case.Scale), $"PaTH{(fox ? "-FoX" : "")} form {x.Form}", Oracle.NoiseFloor(expected, x.Case.DType));
        });

    static OpProperty PathDecode() => new OpProperty<FormCase>("path decode",
        "PathDecodeCache: a prefill of any length, then token steps, gives the naive form's outputs",
        target => Forms(target, 1, new[] { EdgeValues.None, EdgeValues.BetaAtBounds }),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(PathInputs, target.Device);
            var i = Oracle.AsFloat64(inputs);
            var logF = x.Flag ? i.LogForget : null;
            var expected = PathAttentionNaive.Forward(i.Q, i.K, i.V, i.RequireW, i.RequireBeta, logF).detach();
            int t = x.Case.Length, prefix = Math.Min(x.Size, t) - 1;                    // 0 … T−1 tokens prefilled
            using var noGrad = no_grad();
            var c = inputs;
            Tensor Slice(Tensor s, int from, int count) => s.narrow(2, from, count);
            var cache = prefix == 0 ? new PathDecodeCache()
                : PathDecodeCache.Prefill(Slice(c.K, 0, prefix), Slice(c.V, 0, prefix), Slice(c.RequireW, 0, prefix), Slice(c.RequireBeta, 0, prefix),
                    x.Flag ? Slice(c.LogForget!, 0, prefix) : null, chunkSize: Math.Max(1, x.Size / 2));
            var steps = new List<Tensor>();
            using (cache)
                for (int p = prefix; p < t; p++)
                    steps.Add(cache.Step(c.Q.select(2, p), c.K.select(2, p), c.V.select(2, p), c.RequireW.select(2, p), c.RequireBeta.select(2, p),
                        x.Flag ? c.LogForget!.select(2, p) : null));
            // The whole decoded stretch at once: one near-zero output alone would make a relative error meaningless.
            AgreeTensor(stack(steps, 2), expected.narrow(2, prefix, t - prefix), Oracle.Tolerance(x.Case.DType, x.Case.Scale), $"decode steps after a prefill of {prefix}",
                Oracle.NoiseFloor(new Dictionary<string, Tensor> { ["o"] = expected }, x.Case.DType));
        });

    static readonly KernelInputSpec FoxInputs = new(LogForget: true);

    static OpProperty FoxForms() => new OpProperty<FormCase>("fox forms",
        "FoX chunked (any chunk size, with and without block skipping) and SDPA+mask against the naive float64 form",
        target => Forms(target, 2, new[] { EdgeValues.None, EdgeValues.GatesNearZero, EdgeValues.GatesNearOne }),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(FoxInputs, target.Device);
            Func<KernelInputs, Tensor> op = x.Form == 0
                ? i => ForgettingAttentionFast.Chunked(i.Q, i.K, i.V, i.RequireLogForget, x.Size,
                    skipMargin: x.Flag ? FoxKernelOptions.DefaultSkipMargin : double.PositiveInfinity)
                : i => ForgettingAttentionFast.Sdpa(i.Q, i.K, i.V, i.RequireLogForget);
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(i => ForgettingAttentionNaive.Forward(i.Q, i.K, i.V, i.RequireLogForget), inputs64);
            // SDPA casts the bias to q's dtype: in half precision its rounding is ≈ 0.4 % of |bias| (documented).
            double tolerance = Oracle.Tolerance(x.Case.DType, x.Case.Scale) * (x.Form == 1 && x.Case.DType is ScalarType.BFloat16 or ScalarType.Float16 ? 2 : 1);
            Oracle.Agree(Oracle.ValueAndGradients(op, inputs), expected, tolerance, x.Form == 0 ? "fox chunked" : "fox sdpa", Oracle.NoiseFloor(expected, x.Case.DType));
        });

    /// <summary>GDN's inputs from a case: unit k, log decay from the forget gates, β ∈ [0, 2] from PaTH's.</summary>
    static (Tensor Q, Tensor K, Tensor V, Tensor G, Tensor Beta) GdnInputs(KernelInputs i) =>
        (i.Q, Unit(i.K), i.V, i.RequireLogForget, i.RequireBeta);

    /// <summary>Unit rows (normalised in float32 for half precision, as a careful caller does).</summary>
    static Tensor Unit(Tensor x) => x.dtype is ScalarType.BFloat16 or ScalarType.Float16
        ? F.normalize(x.to(ScalarType.Float32), p: 2, dim: -1).to(x.dtype)
        : F.normalize(x, p: 2, dim: -1);

    static OpProperty GdnForms() => new OpProperty<FormCase>("gdn forms",
        "gated delta rule chunked (any chunk size and group size, all three inversions, with an initial state) and prefix scan against the float64 token recurrence",
        target => Forms(target, 4, new[] { EdgeValues.None, EdgeValues.BetaAtBounds, EdgeValues.GatesNearZero, EdgeValues.GatesNearOne }, minHeadDim: 2),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(PathInputs, target.Device);
            int group = 1 + x.Size % 9;
            var inverse = x.Form switch { 0 => UnitLowerInverse.TriangularSolve, 2 => UnitLowerInverse.BlockedSolve, _ => UnitLowerInverse.Blockwise };
            bool scan = x.Form == 3;
            var generator = new TorchSharp.torch.Generator((ulong)x.Case.Seed + 1);
            var initial = x.Flag ? randn(new long[] { x.Case.Batch, x.Case.Heads, x.Case.HeadDim, x.Case.ValueDim }, dtype: ScalarType.Float64, generator: generator) : null;
            Tensor Initial(Tensor like) => initial!.to(like.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32, like.device);
            Func<KernelInputs, Tensor> op = i =>
            {
                var (q, k, v, g, beta) = GdnInputs(i);
                var s0 = initial is null ? null : Initial(q);
                var (o, final) = scan
                    ? GatedDeltaRule.ChunkedScan(q, k, v, g, beta, x.Size, s0, inverse: inverse)
                    : GatedDeltaRule.Chunked(q, k, v, g, beta, x.Size, s0, inverse: inverse, chunksPerGroup: group);
                return cat(new[] { o.flatten(), final.to(o.dtype).flatten() });      // outputs and the final state
            };
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(i =>
            {
                var (q, k, v, g, beta) = GdnInputs(i);
                var (o, final) = GatedDeltaRule.Recurrent(q, k, v, g, beta, initial);
                return cat(new[] { o.flatten(), final.flatten() });
            }, inputs64);
            Oracle.Agree(Without(Oracle.ValueAndGradients(op, inputs), "dw"), Without(expected, "dw"),
                Oracle.Tolerance(x.Case.DType, x.Case.Scale), $"gdn {(scan ? "scan" : $"chunked ({inverse})")}", Oracle.NoiseFloor(expected, x.Case.DType));
        });

    static OpProperty GdnDecode() => new OpProperty<FormCase>("gdn decode",
        "gated delta rule Step, token by token, gives the recurrence's outputs and final state",
        target => Forms(target, 1, new[] { EdgeValues.None, EdgeValues.BetaAtBounds, EdgeValues.GatesNearZero }, minHeadDim: 2),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(PathInputs, target.Device);
            using var noGrad = no_grad();
            var (q, k, v, g, beta) = GdnInputs(inputs);
            // The reference reads the same unit keys, rounded to the case's dtype: a near-zero qᵀk would otherwise
            // turn the rounding of the normalisation into a large relative error of a short sequence.
            Tensor F64(Tensor t) => t.to(ScalarType.Float64, CPU);
            var (q6, k6, v6, g6, b6) = (F64(q), F.normalize(F64(k), p: 2, dim: -1), F64(v), F64(g), F64(beta));   // renormalised: length only, same direction
            var (expected, final) = GatedDeltaRule.Recurrent(q6, k6, v6, g6, b6);
            var state = zeros(new long[] { x.Case.Batch, x.Case.Heads, x.Case.HeadDim, x.Case.ValueDim },
                dtype: q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32, device: q.device);
            var steps = new List<Tensor>();
            for (int p = 0; p < x.Case.Length; p++)
            {
                var (o, next) = GatedDeltaRule.Step(state, q.select(2, p), k.select(2, p), v.select(2, p), g.select(2, p), beta.select(2, p));
                state = next;
                steps.Add(o);
            }
            AgreeTensor(stack(steps, 2), expected, Oracle.Tolerance(x.Case.DType, x.Case.Scale), "steps", Oracle.NoiseFloor(new Dictionary<string, Tensor> { ["o"] = expected }, x.Case.DType));
            AgreeTensor(state, final, Oracle.Tolerance(x.Case.DType, x.Case.Scale), "final state", Oracle.NoiseFloor(new Dictionary<string, Tensor> { ["s"] = final }, x.Case.DType));
        });

    static OpProperty SlidingWindow() => new OpProperty<FormCase>("swa forms",
        "sliding-window attention blockwise (any window and block size) and dense against a float64 masked softmax",
        target => from f in Forms(target, 2, new[] { EdgeValues.None })
                  from block in Gen.Int[1, f.Case.Length + 3]
                  select f with { Form = f.Form == 0 ? block : 0 },
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(KernelInputSpec.QueryKeyValue, target.Device);
            int window = x.Size;
            Func<KernelInputs, Tensor> op = x.Form > 0
                ? i => SlidingWindowAttention.Blockwise(i.Q, i.K, i.V, window, x.Form)
                : i => SlidingWindowAttention.Dense(i.Q, i.K, i.V, window);
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(i =>
            {
                int t = (int)i.Q.shape[2];
                var mask = CausalMask.Additive(t, t, window, dtype: ScalarType.Float64);
                return (i.Q.matmul(i.K.transpose(-2, -1)) / Math.Sqrt(i.Q.shape[3]) + mask).softmax(-1).matmul(i.V);
            }, inputs64);
            Oracle.Agree(Oracle.ValueAndGradients(op, inputs), expected, Oracle.Tolerance(x.Case.DType, x.Case.Scale), x.Form > 0 ? $"swa blockwise (block {x.Form})" : "swa dense", Oracle.NoiseFloor(expected, x.Case.DType));
        });

    /// <summary>An LTE case: window, sinks and the buffer cap (null = the training form, every kept token).</summary>
    public sealed record LteCase(OpCase Case, int Window, int Sinks, int? Buffer)
    {
        public override string ToString() => $"{Case} window={Window} sinks={Sinks} buffer={Buffer?.ToString() ?? "none"}";
    }

    static OpProperty LteForms() => new OpProperty<LteCase>("lte forms",
        "LTE attention, masked SDPA (training form and capped by a buffer) against the float64 reference built by definition",
        target => from c in CaseGens.Case(target.DTypes, MaxLength)
                  from window in Gen.Int[KeepScorer.LookAhead, KeepScorer.LookAhead + c.Length]
                  from sinks in Gen.Int[0, 4]
                  from capped in Gen.Bool
                  from extra in Gen.Int[0, c.Length]
                  select new LteCase(c, window, sinks, capped ? sinks + extra : null),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(new KernelInputSpec(KeepScores: true), target.Device);
            using var inputs64 = Oracle.AsFloat64(inputs);
            var expected = Oracle.ValueAndGradients(i => LteAttentionOps.Reference(i.Q, i.K, i.V, i.RequireKeepScores, x.Window, x.Sinks, x.Buffer), inputs64);
            Oracle.Agree(Oracle.ValueAndGradients(i => LteAttentionOps.Masked(i.Q, i.K, i.V, i.RequireKeepScores, x.Window, x.Sinks, x.Buffer), inputs),
                expected, Oracle.Tolerance(x.Case.DType, x.Case.Scale), "lte masked", Oracle.NoiseFloor(expected, x.Case.DType));
        });

    /// <summary>An NSA case: the block size, how many blocks are selected, the window, and the query heads per KV head.</summary>
    public sealed record NsaCase(OpCase Case, int BlockSize, int Selected, int Window, int Group)
    {
        public override string ToString() => $"{Case} block={BlockSize} selected={Selected} window={Window} group={Group}";
    }

    static OpProperty Sparse() => new OpProperty<NsaCase>("nsa forms",
        "NSA-style sparse attention, batched, against the per-query float64 reference (values, gradients, selected blocks)",
        target => from c in CaseGens.Case(target.DTypes, 64)
                  from block in Gen.Int[1, 12]
                  from selected in Gen.Int[1, Math.Max(1, (c.Length + block - 1) / block)]
                  from window in Gen.Int[1, c.Length + 2]
                  from share in Gen.Int[1, 2]
                  select new NsaCase(c, block, selected, window, share),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(KernelInputSpec.QueryKeyValue, target.Device);
            var generator = new TorchSharp.torch.Generator((ulong)x.Case.Seed + 2);
            var gates = rand(new long[] { x.Case.Batch, x.Case.Heads * x.Group, x.Case.Length, 3 }, dtype: ScalarType.Float64, generator: generator);
            // Query heads: H·group of them read the H KV heads of the case.
            Tensor Queries(Tensor q) => q.repeat_interleave(x.Group, 1) * (1 + 0.1 * arange(x.Group, dtype: q.dtype, device: q.device).repeat(q.shape[1]).view(1, -1, 1, 1));
            Func<KernelInputs, Tensor> Op(bool naive) => i =>
            {
                var g = gates.to(i.Q.dtype == ScalarType.Float64 ? ScalarType.Float64 : i.Q.dtype, i.Q.device);
                return naive
                    ? SparseAttentionNaive.Forward(Queries(i.Q), i.K, i.V, g, x.BlockSize, x.Selected, x.Window)
                    : SparseAttention.Forward(Queries(i.Q), i.K, i.V, g, x.BlockSize, x.Selected, x.Window);
            };
            using var inputs64 = Oracle.AsFloat64(inputs);
            if (x.Case.DType is ScalarType.BFloat16 or ScalarType.Float16)
            {
                // Top-n selection is discontinuous: where rounding the scores to half precision reorders a near-tie,
                // the two forms legitimately read different blocks. Compare values only where they select the same.
                using var noGrad = no_grad();
                var own = SparseAttention.SelectedBlockIndices(Queries(inputs.Q), inputs.K, x.BlockSize, x.Selected).cpu();
                var exact = SparseAttentionNaive.SelectedBlockIndices(Queries(inputs64.Q), inputs64.K, x.BlockSize, x.Selected);
                if (!Same(own.sort(-1).Values, exact.sort(-1).Values)) return;
            }
            var expected = Oracle.ValueAndGradients(Op(naive: true), inputs64);
            Oracle.Agree(Oracle.ValueAndGradients(Op(naive: false), inputs), expected, Oracle.Tolerance(x.Case.DType, x.Case.Scale), "nsa batched", Oracle.NoiseFloor(expected, x.Case.DType));
            if (x.Case.DType == ScalarType.Float64)
            {
                using var noGrad = no_grad();
                var fast = SparseAttention.SelectedBlockIndices(Queries(inputs64.Q), inputs64.K, x.BlockSize, x.Selected);
                var naive = SparseAttentionNaive.SelectedBlockIndices(Queries(inputs64.Q), inputs64.K, x.BlockSize, x.Selected);
                if (!Same(fast.sort(-1).Values, naive.sort(-1).Values))
                    throw new PropertyFailure("nsa: the batched and the naive form select different blocks.");
            }
        });

    static OpProperty HouseholderPieces() => new OpProperty<FormCase>("householder and UT",
        "Householder.Apply and Matrix, Product and CumulativeProducts, the UT transform (three inversions) and ProductFromUT, the three unit-lower inverses",
        target => Forms(target, 2, new[] { EdgeValues.None, EdgeValues.BetaAtBounds }),
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(PathInputs, target.Device);
            using var noGrad = no_grad();
            var i = Oracle.AsFloat64(inputs);
            int l = Math.Min(x.Case.Length, 24);
            var w = i.RequireW.narrow(2, 0, l);                                            // [B, H, L, D]
            var beta = i.RequireBeta.narrow(2, 0, l);
            var wc = inputs.RequireW.narrow(2, 0, l);
            var bc = inputs.RequireBeta.narrow(2, 0, l);
            double tolerance = Oracle.Tolerance(x.Case.DType, x.Case.Scale);
            double unitScale = Oracle.Floor(x.Case.DType);                                  // products of norm-≤1 factors: entries are O(1)
            // Apply on rows = multiplying by the explicit matrix.
            var rows = inputs.Q.narrow(2, 0, l).to(wc.dtype);
            var applied = Householder.Apply(rows, wc, bc);
            var byMatrix = rows.unsqueeze(-2).matmul(Householder.Matrix(wc, bc)).squeeze(-2);
            AgreeTensor(applied, byMatrix.to(ScalarType.Float64), tolerance, "Apply vs Matrix", unitScale);
            // The product H_L ⋯ H_1, three ways.
            var sequential = eye(w.shape[^1], dtype: ScalarType.Float64).expand(w.shape[0], w.shape[1], -1, -1);
            for (int t = 0; t < l; t++) sequential = Householder.Matrix(w.select(2, t), beta.select(2, t)).matmul(sequential);
            AgreeTensor(Householder.Product(wc, bc), sequential, tolerance, "Product", unitScale);
            AgreeTensor(Householder.CumulativeProducts(wc, bc).select(2, l - 1), sequential, tolerance, "CumulativeProducts (last)", unitScale);
            var ut = Householder.UT(wc, bc, x.Form == 0 ? UnitLowerInverse.TriangularSolve : x.Flag ? UnitLowerInverse.BlockedSolve : UnitLowerInverse.Blockwise);
            AgreeTensor(Householder.ProductFromUT(wc, ut.U), sequential, tolerance, "UT → product", unitScale);
            // Both inverses of I + A against a dense inverse.
            var a = (beta.unsqueeze(-1) * w.matmul(w.transpose(-2, -1))).tril(-1);
            var dense = linalg.inv(eye(l, dtype: ScalarType.Float64) + a);
            var ac = a.to(wc.dtype, wc.device);
            AgreeTensor(Householder.InverseUnitLower(ac), dense, tolerance, "InverseUnitLower", unitScale);
            AgreeTensor(Householder.InverseUnitLowerBlockwise(ac), dense, tolerance, "InverseUnitLowerBlockwise", unitScale);
            AgreeTensor(Householder.InverseUnitLowerBlocked(ac, 1 + x.Size % 7), dense, tolerance, $"InverseUnitLowerBlocked (blocks of {1 + x.Size % 7})", unitScale);
        });

    static OpProperty RopeRotations() => new OpProperty<FormCase>("rope",
        "RoPE keeps norms, scores depend only on the distance (shifting both positions changes nothing), both pairings",
        target => from f in Forms(target, 2, new[] { EdgeValues.None }, valueDimDiffers: false)
                  select f with { Case = f.Case with { HeadDim = 2 * Math.Max(1, f.Case.HeadDim / 2), ValueDim = 2 * Math.Max(1, f.Case.HeadDim / 2) } },
        (x, target) =>
        {
            using var inputs = x.Case.Inputs(KernelInputSpec.QueryKeyValue, target.Device);
            using var noGrad = no_grad();
            var pairing = x.Form == 0 ? RopePairing.RotateHalf : RopePairing.Interleaved;
            double tolerance = Oracle.Tolerance(x.Case.DType, x.Case.Scale) * 4;
            var q = inputs.Q; var k = inputs.K;
            var rq = Rope.Apply(q, pairing);
            AgreeTensor(rq.to(ScalarType.Float64).norm(dim: -1), q.to(ScalarType.Float64).norm(dim: -1), tolerance, "norm");
            long shift = x.Size * 7;
            var scores = Rope.Apply(q, pairing).matmul(Rope.Apply(k, pairing).transpose(-2, -1));
            var shifted = Rope.Apply(q, pairing, offset: shift).matmul(Rope.Apply(k, pairing, offset: shift).transpose(-2, -1));
            AgreeTensor(shifted, scores.to(ScalarType.Float64), tolerance * Math.Max(1, x.Case.Scale), $"scores shifted by {shift}");
        });

    static OpProperty Masks() => new OpProperty<FormCase>("alibi and masks",
        "ALiBi slopes and bias, additive causal and sliding-window masks, for any query and key lengths",
        target => Forms(target, 1, new[] { EdgeValues.None }),
        (x, _) =>
        {
            int heads = x.Case.Heads * x.Case.Batch + x.Case.HeadDim, tk = x.Case.Length, tq = Math.Min(tk, x.Size);
            var slopes = Alibi.Slopes(heads).to(ScalarType.Float64);
            var slopeList = slopes.data<double>().ToArray();
            if (slopeList.Any(v => !(v > 0 && v < 1)) || slopeList.Distinct().Count() != heads)
                throw new PropertyFailure($"ALiBi slopes for {heads} heads are not distinct numbers in (0, 1): {string.Join(", ", slopeList)}");
            if ((heads & (heads - 1)) == 0 && slopeList.Select((v, h) => Math.Abs(v - Math.Pow(2, -8.0 * (h + 1) / heads))).Max() > 1e-6)
                throw new PropertyFailure($"ALiBi slopes for {heads} heads (a power of two) are not 2^(−8h/H).");
            var bias = Alibi.Bias(heads, tq, tk).to(ScalarType.Float64);
            var i = arange(tk - tq, tk, dtype: ScalarType.Float64).view(1, -1, 1);
            var j = arange(0, tk, dtype: ScalarType.Float64).view(1, 1, -1);
            var expected = (-slopes.view(-1, 1, 1) * (i - j)).masked_fill(j > i, double.NegativeInfinity);
            if (!bias.eq(expected).logical_or(bias.sub(expected).abs() < 1e-5).all().item<bool>())
                throw new PropertyFailure("ALiBi bias differs from −slope·(i − j) with −∞ above the diagonal.");
            int? window = x.Flag ? x.Size : null;
            var mask = CausalMask.Additive(tq, tk, window, dtype: ScalarType.Float64);
            var visible = (j <= i).logical_and(window is int w ? (i - j) < w : ones_like(j > i)).squeeze(0);
            var expectedMask = zeros(tq, tk, dtype: ScalarType.Float64).masked_fill(visible.logical_not(), double.NegativeInfinity);
            if (!Same(mask, expectedMask)) throw new PropertyFailure($"causal mask (window {window?.ToString() ?? "none"}) differs from 0 on 0 ≤ i − j < W, −∞ elsewhere.");
        });

    static OpProperty PositionalTools() => new OpProperty<FormCase>("positional vectors",
        "PositionalVectorExtractor (batches in any split) and PositionalDecomposition (p, u, m, semantic part) against direct means; PCA and cosine similarity against their definitions",
        target => Forms(target, 3, new[] { EdgeValues.None }),
        (x, target) =>
        {
            var c = x.Case;
            int layers = c.Heads + 1, length = c.Length, width = c.HeadDim + 1, batches = c.Batch + x.Form;
            var generator = new TorchSharp.torch.Generator((ulong)c.Seed);
            var hidden = (randn(new long[] { layers, batches, length, width }, dtype: ScalarType.Float64, generator: generator) * c.Scale)
                .to(c.DType).to(ScalarType.Float64);                                            // [L+1, N, T, D], rounded as the extractor sees them
            using var extractor = new PositionalVectorExtractor(layers, length, width, x.Flag ? ScalarType.Float64 : ScalarType.Float32);
            for (int l = 0; l < layers; l++)
                for (int start = 0; start < batches; start += 1 + x.Size % 2)                      // batches of 1 or 2 sequences
                    extractor.Add(l, hidden[l].narrow(0, start, Math.Min(1 + x.Size % 2, batches - start)).to(c.DType, target.Device));
            using var decomposition = extractor.Result();
            double tolerance = x.Flag && c.DType == ScalarType.Float64 ? 1e-10 : 1e-5;
            var p = hidden.mean(new long[] { 1 });                                                // [L+1, T, D]
            AgreeTensor(decomposition.P, p, tolerance, "positional vectors p");
            AgreeTensor(decomposition.Mean, p.mean(new long[] { 1 }), tolerance, "mean vectors u", Oracle.Floor(ScalarType.Float32));
            AgreeTensor(decomposition.Basis, p - p.mean(new long[] { 1 }, keepdim: true), tolerance, "basis m", Oracle.Floor(ScalarType.Float32));
            // Semantic part plus positional vector gives the hidden state back (compared without the cancellation of h − p).
            AgreeTensor(decomposition.Semantic(0, hidden[0]) + decomposition.P[0].to(ScalarType.Float64, CPU), hidden[0], 1e-12, "semantic part + p = h");
            if (decomposition.Samples != batches) throw new PropertyFailure($"Samples = {decomposition.Samples}, {batches} sequences were added.");
            // PCA: the scores are the centred rows projected on orthonormal directions; the explained ratios fall and sum to ≤ 1.
            var rows = p[0];
            int k = Math.Min(1 + x.Size % 3, (int)Math.Min(rows.shape[0], rows.shape[1]));
            var (scores, ratio) = PositionalAnalysis.Pca(rows, k);
            var centred = rows - rows.mean(new long[] { 0 }, keepdim: true);
            var total = centred.square().sum().item<double>();
            var explained = total > 0 ? scores.square().sum(dim: 0) / total : zeros_like(ratio);           // no variance (one row): nothing explained
            AgreeTensor(ratio.reshape(-1), explained.reshape(-1), 1e-8, "PCA explained ratio = score variance / total", 1e-12);
            var r = ratio.data<double>().ToArray();
            if (r.Zip(r.Skip(1)).Any(z => z.Second > z.First + 1e-12) || r.Sum() > 1 + 1e-9)
                throw new PropertyFailure($"PCA explained ratios are not falling or sum above 1: {string.Join(", ", r)}.");
            var cosine = PositionalAnalysis.CosineSimilarity(rows);
            var unit = rows / rows.norm(1, keepdim: true);
            AgreeTensor(cosine, unit.matmul(unit.T), 1e-10, "cosine similarity", 1e-12);
        });

    /// <summary>A mixer for the decode property: which kind, its options, the model width.</summary>
    public sealed record MixerCase(MixerSpec Spec, int Heads, int HeadDim, int Length, int Seed)
    {
        public override string ToString() => $"{Spec} heads={Heads} headDim={HeadDim} T={Length} seed={Seed}";
    }

    static Gen<MixerSpec> Specs(int heads) => Gen.Int[0, 5].SelectMany(kind => kind switch
    {
        0 => from position in CaseGens.Among(AttentionPosition.NoPE, AttentionPosition.RoPE, AttentionPosition.ALiBi)
             from window in Gen.Int[0, 9]
             from interleaved in Gen.Bool
             select (MixerSpec)new SoftmaxAttentionSpec
             {
                 Position = position, Window = window == 0 ? null : window,
                 RopePairing = interleaved ? RopePairing.Interleaved : RopePairing.RotateHalf,
             },
        1 => from chunk in Gen.Int[1, 9]
             from rank in Gen.Int[1, 6]
             from forget in Gen.Bool
             select (MixerSpec)new PathSpec { ChunkSize = chunk, LowRank = rank, ForgetGate = forget },
        2 => from gate in Gen.Bool
             from qkNorm in Gen.Bool
             from shift in Gen.Bool
             select (MixerSpec)new FoxSpec { OutputGate = gate, QkNorm = qkNorm, KvShift = shift },
        3 => from gate in Gen.Bool
             from conv in Gen.Int[1, 4]
             from chunk in Gen.Int[1, 9]
             from expansion in Gen.Int[1, 2]
             from headDim in Gen.Int[1, 6]
             select (MixerSpec)new GatedDeltaNetSpec { Gate = gate, ConvKernel = conv, ChunkSize = chunk, ValueExpansion = expansion, HeadDim = headDim },
        4 => from window in Gen.Int[KeepScorer.LookAhead, 12]
             from sinks in Gen.Int[0, 4]
             from extra in Gen.Int[0, 6]
             from rope in Gen.Bool
             select (MixerSpec)new LteSpec { Window = window, Sinks = sinks, Buffer = sinks + extra, Rope = rope },
        _ => from block in Gen.Int[1, 4]
             from selected in Gen.Int[1, 3]
             from window in Gen.Int[1, 5]
             from kv in CaseGens.Among(Enumerable.Range(1, heads).Where(d => heads % d == 0).ToArray())
             from rope in Gen.Bool
             select (MixerSpec)new NsaSpec { BlockSize = block, SelectedBlocks = selected, Window = window, KvHeads = kv, Rope = rope },
    });

    static OpProperty MixerDecode() => new OpProperty<MixerCase>("mixer decode",
        "every mixer kind with random options (softmax with RoPE/ALiBi/window, PaTH, FoX, GDN, LTE, NSA): token-by-token decoding equals the full forward, and the state holds the bytes its spec predicts",
        _ => from heads in Gen.Int[1, 3]
             from headDim in Gen.Int[1, 4].Select(h => 2 * h)
             from spec in Specs(heads)
             from length in Gen.Int[1, 24]
             from seed in Gen.Int[0, 1_000_000]
             select new MixerCase(spec, heads, headDim, length, seed),
        (x, _) =>
        {
            var dims = new MixerDimensions(DModel: x.Heads * x.HeadDim, Heads: x.Heads);
            manual_seed(x.Seed);
            using var mixer = x.Spec.Create(dims);
            mixer.InitializeWeights(0.4);                                                   // far from uniform attention
            mixer.to(ScalarType.Float64);
            mixer.eval();
            using var noGrad = no_grad();
            var input = randn(new long[] { 2, x.Length, dims.DModel }, dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator((ulong)x.Seed + 7));
            var full = mixer.forward(input);
            using var state = mixer.NewState(2);
            for (int t = 0; t < x.Length; t++)
            {
                var row = mixer.Step(input[.., t], state);
                AgreeTensor(row, full[.., t], 1e-9, $"decode step {t}", 1e-12);
                long predicted = x.Spec.StateBytes(dims, 2, t + 1, ScalarType.Float64);
                if (state.Bytes != predicted) throw new PropertyFailure($"after {t + 1} tokens the state holds {state.Bytes} bytes, the spec predicts {predicted}.");
            }
        });

    /// <summary>A task case: sizes and a seed.</summary>
    public sealed record TaskCase(int Keys, int Values, int Fillers, int Batch, int Pairs, int Queries, int Extra, int Seed)
    {
        public override string ToString() => $"keys={Keys} values={Values} fillers={Fillers} batch={Batch} pairs={Pairs} queries={Queries} extra={Extra} seed={Seed}";
    }

    static OpProperty Tasks() => new OpProperty<TaskCase>("tasks",
        "MQAR (keys distinct, every query's answer is its pair's value), flip-flop (each read answers the last write), S1 needles (the needle reads back)",
        _ => from keys in Gen.Int[1, 40]
             from values in Gen.Int[1, 40]
             from fillers in Gen.Int[1, 6]
             from batch in Gen.Int[1, 3]
             from pairs in Gen.Int[1, keys]
             from queries in Gen.Int[1, pairs]
             from extra in Gen.Int[0, 20]
             from seed in Gen.Int[0, 1_000_000]
             select new TaskCase(keys, values, fillers, batch, pairs, queries, extra, seed),
        (x, _) =>
        {
            var mqar = new PathNotebooks.Tasks.Mqar(x.Keys, x.Values, x.Fillers);
            int length = 2 * x.Pairs + 2 * x.Queries + x.Extra;
            var sequences = mqar.Sequences(x.Batch, length, x.Pairs, x.Queries, new TorchSharp.torch.Generator((ulong)x.Seed));
            var data = sequences.data<long>().ToArray();
            for (int b = 0; b < x.Batch; b++)
            {
                var row = data.Skip(b * length).Take(length).ToArray();
                var keys = Enumerable.Range(0, x.Pairs).Select(p => row[2 * p]).ToArray();
                if (keys.Distinct().Count() != x.Pairs || !keys.All(mqar.IsKey)) throw new PropertyFailure($"MQAR row {b}: the {x.Pairs} keys are not distinct keys.");
                for (int q = 0; q < x.Queries; q++)
                {
                    long key = row[length - 2 * x.Queries + 2 * q], answer = row[length - 2 * x.Queries + 2 * q + 1];
                    int pair = Array.IndexOf(keys, key);
                    if (pair < 0 || row[2 * pair + 1] != answer || !mqar.IsValue(answer))
                        throw new PropertyFailure($"MQAR row {b}, query {q}: key {key} is not answered by its pair's value.");
                }
            }
            using var batch = mqar.Generate(x.Batch, length, x.Pairs, x.Queries, new TorchSharp.torch.Generator((ulong)x.Seed));
            if (batch.LossMask is null || batch.LossMask.sum().item<long>() != (long)x.Batch * x.Queries)
                throw new PropertyFailure("MQAR batch: the loss mask does not mark exactly the queries.");

            var flips = PathNotebooks.Tasks.FlipFlop.Sequences(x.Batch, x.Pairs + 1, 0.1 * (x.Fillers % 10), new TorchSharp.torch.Generator((ulong)x.Seed));
            var answers = PathNotebooks.Tasks.FlipFlop.ReadAnswers(flips);
            var tokens = flips.data<long>().ToArray();
            long cols = flips.shape[1];
            for (int b = 0; b < x.Batch; b++)
                for (long t = 0; t + 1 < cols; t++)
                    if (answers[b, t] >= 0 && tokens[b * cols + t + 1] != answers[b, t])
                        throw new PropertyFailure($"flip-flop row {b}: the read at {t} is followed by {tokens[b * cols + t + 1]}, not the last write {answers[b, t]}.");

            var needles = new PathNotebooks.Tasks.NeedleInAHaystack(null);
            foreach (var kind in new[] { PathNotebooks.Tasks.NeedleKind.S1 })            // S2 and S3 hide needles in the shipped prose (RecallTaskTests)
            {
                int needleLength = 2 * (1 + needles.ValueLength(kind)) + 1 + x.Extra * 3;
                var (hay, _) = needles.Sequences(kind, x.Batch, needleLength, new TorchSharp.torch.Generator((ulong)x.Seed));
                for (int b = 0; b < x.Batch; b++)
                {
                    var (needle, answer) = needles.ReadBack(kind, hay[b]);
                    if (needle != answer) throw new PropertyFailure($"{kind} row {b}: the needle '{needle}' and the answer '{answer}' differ.");
                }
            }
        });

    /// <summary>An out-of-domain call: which op, which violation, a case for the shapes.</summary>
    public sealed record DomainCase(OpCase Case, string Op, string Violation)
    {
        public override string ToString() => $"{Op} with {Violation}: {Case}";
    }

    static readonly string[] DomainOps = { "path naive", "path chunked", "path materialized", "path decode", "fox naive", "fox chunked", "fox sdpa", "fox auto", "gdn chunked", "gdn recurrent", "gdn step" };
    static readonly string[] Violations = { "beta above 2", "beta below 0", "beta NaN", "w not unit", "log f positive", "log f NaN", "k float32 with q float64", "v float32 with q float64" };

    /// <summary>Which argument an op must name for a violation, or null when the op does not take that input.</summary>
    static string? ExpectedParameter(string op, string violation)
    {
        bool path = op.StartsWith("path"), fox = op.StartsWith("fox"), gdn = op.StartsWith("gdn");
        return violation switch
        {
            "beta above 2" or "beta below 0" or "beta NaN" => path || gdn ? "beta" : null,
            "w not unit" => path ? "w" : gdn ? "k" : null,
            "log f positive" => fox || gdn ? (gdn ? "logDecay" : "logForget") : null,
            "log f NaN" => path || fox ? "logForget" : "logDecay",
            "k float32 with q float64" => "k",
            "v float32 with q float64" => "v",
            _ => null,
        };
    }

    static OpProperty DomainErrors() => new OpProperty<DomainCase>("domain errors",
        "out-of-domain inputs (β ∉ [0, 2], non-unit w or k, log f > 0, NaN gates, mixed dtypes) raise an ArgumentException naming the argument",
        target => from c in CaseGens.Case(new[] { ScalarType.Float64 }, 40)
                  from op in CaseGens.Among(DomainOps)
                  from violation in CaseGens.Among(Violations)
                  where ExpectedParameter(op, violation) is not null
                  select new DomainCase(c, op, violation),
        (x, target) =>
        {
            using var clean = x.Case.Inputs(PathInputs, target.Device);
            using var noGrad = no_grad();
            var q = clean.Q.detach(); var k = clean.K.detach(); var v = clean.V.detach();
            var w = clean.RequireW.detach().clone(); var beta = clean.RequireBeta.detach().clone(); var logF = clean.RequireLogForget.detach().clone();
            bool gdn = x.Op.StartsWith("gdn");
            if (gdn) k = F.normalize(k, p: 2, dim: -1);
            var at = (TensorIndex)0;
            switch (x.Violation)
            {
                case "beta above 2": beta[at, at, at] = 2.5; break;
                case "beta below 0": beta[at, at, at] = -0.5; break;
                case "beta NaN": beta[at, at, at] = double.NaN; break;
                case "w not unit": if (gdn) k = k * 2; else w = w * 2; break;
                case "log f positive": logF[at, at, at] = 0.5; break;
                case "log f NaN": logF[at, at, at] = double.NaN; break;
                case "k float32 with q float64": k = k.to(ScalarType.Float32); break;
                case "v float32 with q float64": v = v.to(ScalarType.Float32); break;
            }
            Action call = x.Op switch
            {
                "path naive" => () => PathAttentionNaive.Forward(q, k, v, w, beta, logF),
                "path chunked" => () => PathAttentionChunked.Forward(q, k, v, w, beta, logF, chunkSize: 16),
                "path materialized" => () => PathAttentionChunked.ForwardMaterialized(q, k, v, w, beta, logF),
                "path decode" => () => { using var cache = new PathDecodeCache(); cache.Step(q.select(2, 0), k.select(2, 0), v.select(2, 0), w.select(2, 0), beta.select(2, 0), logF.select(2, 0)); },
                "fox naive" => () => ForgettingAttentionNaive.Forward(q, k, v, logF),
                "fox chunked" => () => ForgettingAttentionFast.Chunked(q, k, v, logF, 16),
                "fox sdpa" => () => ForgettingAttentionFast.Sdpa(q, k, v, logF),
                "fox auto" => () => ForgettingAttentionFast.Forward(q, k, v, logF),
                "gdn chunked" => () => GatedDeltaRule.Chunked(q, k, v, logF, beta, 16),
                "gdn recurrent" => () => GatedDeltaRule.Recurrent(q, k, v, logF, beta),
                "gdn step" => () => GatedDeltaRule.Step(zeros(q.shape[0], q.shape[1], q.shape[3], v.shape[3], dtype: ScalarType.Float64), q.select(2, 0), k.select(2, 0), v.select(2, 0), logF.select(2, 0), beta.select(2, 0)),
                _ => throw new InvalidOperationException(x.Op),
            };
            string expected = ExpectedParameter(x.Op, x.Violation)!;
            try { call(); }
            catch (ArgumentException e) when (e.ParamName == expected) { return; }
            catch (ArgumentException e) { throw new PropertyFailure($"{x.Op} with {x.Violation}: the error names '{e.ParamName}', expected '{expected}': {e.Message}"); }
            throw new PropertyFailure($"{x.Op} with {x.Violation}: accepted without an error.");
        });

    static OpProperty NanPropagates() => new OpProperty<VariantCase>("nan inputs",
        "a NaN in q, k or v of a registry op is never silently dropped: it reaches the output, or the op rejects it naming the input",
        target => from c in CaseGens.Case(target.DTypes, 64)
                  from v in CaseGens.Among(KernelRegistry.Ops.SelectMany(o => o.Variants.Select(x => $"{o.Name}|{x.Name}")).ToArray())
                  select new VariantCase(c, v),
        (x, target) =>
        {
            var parts = x.Variant.Split('|');
            var op = KernelRegistry.Get(parts[0]);
            var variant = op.Variants.Single(v => v.Name == parts[1]);
            using var inputs = x.Case.Inputs(op.Inputs, target.Device);
            if (variant.Unsupported(inputs) is not null) return;
            using var noGrad = no_grad();
            var which = x.Case.Seed % 3;
            var poisoned = (which == 0 ? inputs.Q : which == 1 ? inputs.K : inputs.V).detach().clone();
            long position = x.Case.Seed % x.Case.Length;
            poisoned[0, 0, position, 0] = double.NaN;
            var call = which == 0 ? inputs with { Q = poisoned } : which == 1 ? inputs with { K = poisoned } : inputs with { V = poisoned };
            string poisonedName = which == 0 ? "q" : which == 1 ? "k" : "v";
            Tensor o;
            try { o = variant.Forward(call); }
            catch (ArgumentException e) when (e.ParamName == poisonedName) { return; }        // rejected, naming it: also documented
            if (!o.isnan().any().item<bool>())
                throw new PropertyFailure($"{variant.Name}: a NaN in {poisonedName} at position {position} left the output free of NaN.");
        });

    /// <summary>Throws unless <paramref name="actual"/> matches <paramref name="expected"/> (shape, finiteness, relative error).</summary>
    static void AgreeTensor(Tensor actual, Tensor expected, double tolerance, string what, double? floor = null) =>
        Oracle.Agree(new() { ["value"] = actual.detach().to(ScalarType.Float64, CPU) }, new() { ["value"] = expected.detach().to(ScalarType.Float64, CPU) },
            tolerance, what, floor ?? Oracle.NoiseFloor(new Dictionary<string, Tensor> { ["value"] = expected }, actual.dtype));

    /// <summary>Same shape and every element equal (−∞ equals −∞).</summary>
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>The entries without <paramref name="key"/> (an input the op reads in one form only).</summary>
    static Dictionary<string, Tensor> Without(Dictionary<string, Tensor> entries, string? key) =>
        key is null ? entries : entries.Where(e => e.Key != key).ToDictionary(e => e.Key, e => e.Value);
}
