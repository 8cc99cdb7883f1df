using PathNotebooks.Kernels;
using static TorchSharp.torch;

namespace PathNotebooks.Checks;

/// <summary>
/// Value-and-gradient comparison of an op against its float64 reference: the property every op case must satisfy
/// (or raise its documented error).
/// </summary>
public static class Oracle
{
    /// <summary>
    /// The relative error (Frobenius norm of the difference over that of the reference) an op may have in this dtype,
    /// forward and gradients. float32 leaves room for chunked forms that sum in a different order and for TF32 on
    /// CUDA, and at ×10 logits and more for gradients that are differences of nearly equal terms (up to 1.2 % seen
    /// on an H200 at T ≤ 11, D ≤ 4); half precision for 8–11-bit mantissas (gradients of short sequences, whose few
    /// terms cancel, set these: the worst of 200 cases per property on an H200 were 11 % in bfloat16 and 3.3 % in
    /// float16, at T ≤ 5 and D ≤ 3).
    /// </summary>
    public static double Tolerance(ScalarType dtype, double logitScale = 1) => dtype switch
    {
        ScalarType.Float64 => 1e-7,
        // Peaked softmax (×10 and more) on a few keys: gradients are differences of nearly equal terms.
        ScalarType.Float32 => logitScale >= 10 ? 2e-2 : 5e-3,
        ScalarType.Float16 => 5e-2,
        ScalarType.BFloat16 => 1.5e-1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a floating dtype"),
    };

    /// <summary>
    /// The output ("output") and d(output · G)/dx for every input x the op reads (G a fixed random upstream gradient
    /// in the output's shape), each entry detached, in float64; fresh leaves per call.
    /// </summary>
    public static Dictionary<string, Tensor> ValueAndGradients(Func<KernelInputs, Tensor> op, KernelInputs inputs, int upstreamSeed = 99)
    {
        var leaves = inputs.CloneAsLeaves();
        var o = op(leaves);
        var upstream = randn(o.shape, dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator((ulong)upstreamSeed)).to(o.dtype, o.device);
        (o.to(ScalarType.Float64) * upstream.to(ScalarType.Float64)).sum().backward();
        var result = new Dictionary<string, Tensor> { ["output"] = o.detach().to(ScalarType.Float64, CPU) };
        // An input the output does not depend on (PaTH's w at T = 1, say) may get no gradient at all in one form and
        // zeros in another: both mean zero.
        foreach (var (name, leaf) in leaves.Named)
            result["d" + name] = leaf.grad is { } grad ? grad.detach().to(ScalarType.Float64, CPU) : zeros(leaf.shape, dtype: ScalarType.Float64);
        return result;
    }

    /// <summary>The same inputs as float64 leaves on the CPU (the reference's inputs).</summary>
    public static KernelInputs AsFloat64(KernelInputs x)
    {
        static Tensor? F64(Tensor? t) => t?.detach().to(ScalarType.Float64, CPU).requires_grad_(true);
        return new KernelInputs(F64(x.Q)!, F64(x.K)!, F64(x.V)!, F64(x.W), F64(x.Beta), F64(x.LogForget), F64(x.KeepScores));
    }

    /// <summary>
    /// Rounding noise of a dtype relative to the size of the numbers around it. A gradient that is exactly zero in
    /// float64 (a query whose softmax row holds one key, a saturated softmax, a normalised 1-D key) comes out of a
    /// form that sums in another order as rounding noise; compared with the tolerance this allows noise of about
    /// tolerance × floor times the op's scale (1e-13 in float64, 5e-6 in float32).
    /// </summary>
    public static double Floor(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 1e-6,
        ScalarType.Float32 => 1e-3,
        _ => 3e-2,
    };

    /// <summary>
    /// The absolute floor per element for comparing against <paramref name="reference"/>: <see cref="Floor"/> times
    /// the largest root-mean-square entry of any of its tensors (the scale the op works at).
    /// </summary>
    public static double NoiseFloor(IReadOnlyDictionary<string, Tensor> reference, ScalarType dtype) =>
        Floor(dtype) * reference.Values.Select(t => t.numel() == 0 ? 0 : t.to(ScalarType.Float64).norm().item<double>() / Math.Sqrt(t.numel())).DefaultIfEmpty(0).Max();

    /// <summary>
    /// <c>‖a − b‖ / (‖b‖ + floor·√n)</c> in float64: relative to the reference, with an absolute floor per element so that
    /// rounding noise on a (near-)zero reference is not an infinite error.
    /// </summary>
    public static double RelativeError(Tensor actual, Tensor reference, double floor = 0)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64, CPU);
        var r = reference.to(ScalarType.Float64, CPU);
        double diff = (a - r).norm().item<double>(), norm = r.norm().item<double>() + floor * Math.Sqrt(r.numel());
        return norm == 0 ? (diff == 0 ? 0 : double.PositiveInfinity) : diff / norm;
    }

    /// <summary>
    /// Throws <see cref="PropertyFailure"/> unless <paramref name="actual"/> has the reference's entries, each finite
    /// where the reference is and within <paramref name="tolerance"/> of it (<see cref="RelativeError"/> with
    /// <paramref name="floor"/>, usually <see cref="Floor"/> of the op's dtype).
    /// </summary>
    public static void Agree(Dictionary<string, Tensor> actual, Dictionary<string, Tensor> reference, double tolerance, string what, double floor = 0)
    {
        var missing = reference.Keys.Except(actual.Keys).Concat(actual.Keys.Except(reference.Keys)).ToArray();
        if (missing.Length > 0) throw new PropertyFailure($"{what}: the op and its reference differ in which inputs get gradients ({string.Join(", ", missing)}).");
        foreach (var (name, expected) in reference)
        {
            var got = actual[name];
            if (!got.shape.SequenceEqual(expected.shape))
                throw new PropertyFailure($"{what}: {name} has shape [{string.Join(", ", got.shape)}], the reference [{string.Join(", ", expected.shape)}].");
            bool referenceFinite = expected.isfinite().all().item<bool>();
            if (referenceFinite && !got.isfinite().all().item<bool>())
                throw new PropertyFailure($"{what}: {name} has {got.isfinite().logical_not().sum().item<long>()} NaN/inf entries where the float64 reference is finite.");
            double error = RelativeError(got, expected, floor);
            if (!(error <= tolerance))
                throw new PropertyFailure($"{what}: {name} relative error {error:E2} > {tolerance:E0}.");
        }
    }
}

/// <summary>A property's verdict on one case: what differed, in words (CsCheck shrinks on it and prints it with the case).</summary>
public sealed class PropertyFailure(string message) : Exception(message);
