using CsCheck;
using PathNotebooks.Kernels;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Checks;

/// <summary>Which edge values a case plants among its random gates.</summary>
public enum EdgeValues
{
    /// <summary>Gates as drawn: β = 2σ(N(0, 1)), log f = logsigmoid(N(4, 1)).</summary>
    None,
    /// <summary>About a third of the β exactly 0 (identity transform) and a third exactly 2 (a reflection).</summary>
    BetaAtBounds,
    /// <summary>About a third of the forget gates f ≈ 1e-13 (log f = −30): the memory is all but reset there.</summary>
    GatesNearZero,
    /// <summary>About a third of the forget gates f = 1 − 1e-7: almost no forgetting.</summary>
    GatesNearOne,
}

/// <summary>
/// One random call of an attention-shaped op: sizes, dtype, logit scale, edge values and the seed of its tensors.
/// Printed as the failing case when a property fails (after shrinking: the smallest failing case found).
/// </summary>
/// <param name="Batch">B</param>
/// <param name="Heads">H</param>
/// <param name="Length">T</param>
/// <param name="HeadDim">D of q and k (and PaTH's w)</param>
/// <param name="ValueDim">Dv</param>
/// <param name="DType">dtype of q, k, v (gates are float32, or float64 with float64 q)</param>
/// <param name="Scale">q is multiplied by this: logits from ordinary (1) to very peaked (30; at most 10 in half
/// precision, where ×30 logits make gradients ill-conditioned beyond what 8–11 mantissa bits can hold)</param>
/// <param name="Edges">which edge values are planted among the gates</param>
/// <param name="Seed">seed of every random tensor of the case</param>
public sealed record OpCase(int Batch, int Heads, int Length, int HeadDim, int ValueDim, ScalarType DType, double Scale,
    EdgeValues Edges, int Seed)
{
    public override string ToString() =>
        $"B={Batch} H={Heads} T={Length} D={HeadDim} Dv={ValueDim} {DType} scale={Scale} edges={Edges} seed={Seed}";

    /// <summary>
    /// The case's inputs on <paramref name="device"/>, every one a leaf with gradients. Drawn in float64 on the CPU from
    /// a generator seeded by <see cref="Seed"/> and then cast and moved, so a case means the same numbers on every device.
    /// </summary>
    public KernelInputs Inputs(KernelInputSpec spec, Device device)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)Seed);
        Tensor Normal(params long[] shape) => randn(shape, dtype: ScalarType.Float64, generator: generator);
        var gateType = DType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor Leaf(Tensor x, ScalarType dtype) => x.to(dtype, device).detach().requires_grad_(true).MoveToOuterDisposeScope();
        long b = Batch, h = Heads, t = Length;
        var q = Normal(b, h, t, HeadDim) * Scale;
        var k = Normal(b, h, t, HeadDim);
        var v = Normal(b, h, t, ValueDim);
        Tensor? w = null, beta = null, logForget = null, keep = null;
        // Which third of the positions gets which planted value (0, 1, 2 per position).
        var third = rand(new long[] { b, h, t }, dtype: ScalarType.Float64, generator: generator).mul_(3).floor_();
        if (spec.Transforms)
        {
            w = F.normalize(Normal(b, h, t, HeadDim), p: 2, dim: -1);
            beta = 2 * Normal(b, h, t).sigmoid();
            if (Edges == EdgeValues.BetaAtBounds)
                beta = where(third.eq(0), zeros_like(beta), where(third.eq(1), full_like(beta, 2.0), beta));
        }
        if (spec.LogForget)
        {
            logForget = F.logsigmoid(Normal(b, h, t) + 4);
            if (Edges == EdgeValues.GatesNearZero) logForget = where(third.eq(0), full_like(logForget, -30.0), logForget);
            if (Edges == EdgeValues.GatesNearOne) logForget = where(third.eq(0), full_like(logForget, -1e-7), logForget);
        }
        if (spec.KeepScores) keep = (2 * Normal(b, h, t)).sigmoid() - 0.5;
        return new KernelInputs(Leaf(q, DType), Leaf(k, DType), Leaf(v, DType),
            w is null ? null : Leaf(w, gateType), beta is null ? null : Leaf(beta, gateType),
            logForget is null ? null : Leaf(logForget, gateType), keep is null ? null : Leaf(keep, gateType));
    }
}

/// <summary>The generators the properties share. Every range starts at its simplest value, which shrinking moves towards.</summary>
public static class CaseGens
{
    /// <summary>One of <paramref name="values"/>, shrinking towards the first.</summary>
    public static Gen<T> Among<T>(params T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    /// <summary>T: 1, primes (never a multiple of a chunk size), and anything up to <paramref name="max"/>.</summary>
    public static Gen<int> Length(int max) =>
        Gen.Frequency((1, Gen.Const(1)), (2, Among(2, 3, 5, 7, 11, 13, 17, 31, 37, 61, 67, 97, 127, 131).Where(t => t <= max)), (3, Gen.Int[1, max]));

    /// <summary>A whole case; dtypes from <paramref name="dtypes"/>, T up to <paramref name="maxLength"/>.</summary>
    /// <param name="dtypes">the dtypes drawn</param>
    /// <param name="maxLength">longest T</param>
    /// <param name="maxHeadDim">largest D and Dv</param>
    /// <param name="valueDimDiffers">whether Dv is drawn on its own (else Dv = D)</param>
    /// <param name="edges">the edge values drawn</param>
    /// <param name="minHeadDim">2 for ops that normalise their keys: at D = 1 a unit key is ±1, the gradient through the
    /// normalisation is zero analytically and rounding ÷ ‖k‖ numerically, which says nothing about the op</param>
    public static Gen<OpCase> Case(IReadOnlyList<ScalarType> dtypes, int maxLength, int maxHeadDim = 16, bool valueDimDiffers = true,
        IReadOnlyList<EdgeValues>? edges = null, int minHeadDim = 1)
    {
        var edgeChoices = (edges ?? new[] { EdgeValues.None }).ToArray();
        return from b in Gen.Int[1, 2]
               from h in Gen.Int[1, 3]
               from t in Length(maxLength)
               from d in Gen.Int[minHeadDim, maxHeadDim]
               from dv in valueDimDiffers ? Gen.Int[1, maxHeadDim] : Gen.Const(0)
               from dtype in Among(dtypes.ToArray())
               from scale in dtype is ScalarType.BFloat16 or ScalarType.Float16 ? Among(1.0, 3.0, 10.0) : Among(1.0, 3.0, 10.0, 30.0)
               from edge in Among(edgeChoices)
               from seed in Gen.Int[0, 1_000_000]
               select new OpCase(b, h, t, d, valueDimDiffers ? dv : d, dtype, scale, edge, seed);
    }
}
