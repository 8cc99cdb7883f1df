using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks;

/// <summary>
/// Checks that an op's inputs lie in its documented domain (docs/domains.md lists every op's domain and whether it
/// validates or is exact everywhere). A failure is an <see cref="ArgumentException"/> naming the argument, the first
/// offending value and where it sits, and the allowed range. NaN never passes a range check (it is outside every
/// range), so a NaN gate is rejected rather than turned into a NaN output.
/// <para>Cost: one comparison and reduction per checked tensor, and for all checks of one call (<see cref="Rules"/>) one
/// read of a single boolean, which on a GPU waits for the queue. The public ops check; the layers, whose gates lie in
/// the domain by construction, call the unchecked forms.</para>
/// </summary>
public static class Domain
{
    /// <summary>Throws unless <paramref name="x"/> has <paramref name="reference"/>'s dtype (no silent promotion between q, k and v).</summary>
    public static void SameDType(Tensor x, string name, Tensor reference, string referenceName)
    {
        if (x.dtype != reference.dtype)
            throw new ArgumentException($"{name} must have {referenceName}'s dtype {reference.dtype}, got {x.dtype}.", name);
    }

    /// <summary>
    /// Throws unless the gate-like input <paramref name="x"/> (PaTH's w and β, a log forget gate, a log decay) has q's
    /// dtype, or float32 when q is half precision (where the kit's ops compute gates in float32 anyway).
    /// </summary>
    public static void GateDType(Tensor x, string name, Tensor q)
    {
        bool half = q.dtype is ScalarType.BFloat16 or ScalarType.Float16;
        if (x.dtype == q.dtype || (half && x.dtype == ScalarType.Float32)) return;
        string allowed = half ? $"{q.dtype} or Float32" : q.dtype.ToString();
        throw new ArgumentException($"{name} must have dtype {allowed} (q is {q.dtype}), got {x.dtype}.", name);
    }

    /// <summary>Throws unless every element of <paramref name="x"/> lies in <c>[lo, hi]</c> (NaN does not); double.MinValue and
    /// MaxValue stand for open ends ("finite and ≤ 0").</summary>
    public static void InRange(Tensor x, string name, double lo, double hi, string why)
    {
        using var scope = NewDisposeScope();
        new Rules().InRange(x, name, lo, hi, why).Check();
    }

    /// <summary>
    /// Throws unless every row (last dimension) of <paramref name="x"/> has norm 1 within the dtype's rounding: 1e-5 for
    /// float32/float64, 2e-2 for bfloat16/float16 (a row normalised in float32 and rounded to bf16).
    /// </summary>
    public static void UnitRows(Tensor x, string name, string why)
    {
        using var scope = NewDisposeScope();
        new Rules().UnitRows(x, name, why).Check();
    }

    /// <summary>
    /// Several checks of one call with a single wait for the device: each rule builds its mask, one read of one
    /// boolean says whether any failed, and only then is the first failure turned into its message.
    /// </summary>
    public sealed class Rules
    {
        readonly List<(Tensor Bad, Tensor Values, string Name, string Rule, string? Prefix)> pending = new();

        /// <summary>Every element of <paramref name="x"/> in <c>[lo, hi]</c> (NaN is not).</summary>
        public Rules InRange(Tensor x, string name, double lo, double hi, string why)
        {
            pending.Add(((x >= lo).logical_and_(x <= hi).logical_not_(), x, name, $"{RangeRule(lo, hi)} ({why})", null));
            return this;
        }

        /// <summary>Unit rows (see <see cref="Domain.UnitRows"/>).</summary>
        public Rules UnitRows(Tensor x, string name, string why)
        {
            double tolerance = UnitTolerance(x);
            var norms = x.to(x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32).norm(-1);
            pending.Add((((norms - 1).abs_() <= tolerance).logical_not_(), norms, name,
                $"must have unit rows (‖row‖ = 1 within {tolerance:G2}; {why})", "a row norm"));
            return this;
        }

        /// <summary>Throws for the first rule that fails; one device wait when all hold.</summary>
        public void Check()
        {
            if (pending.Count == 0) return;
            using var scope = NewDisposeScope();
            bool anyBad = stack(pending.Select(p => p.Bad.any()).ToArray()).any().item<bool>();
            if (!anyBad) return;
            foreach (var (bad, values, name, rule, prefix) in pending) ThrowIfAny(bad, values, name, rule, prefix);
        }
    }

    /// <summary>"must lie in [0, 2]", "must be finite and ≤ 0", "must be finite" (double.MinValue/MaxValue as open ends).</summary>
    static string RangeRule(double lo, double hi) => (lo == double.MinValue, hi == double.MaxValue) switch
    {
        (true, true) => "must be finite",
        (true, false) => $"must be finite and ≤ {Number(hi)}",
        (false, true) => $"must be finite and ≥ {Number(lo)}",
        _ => $"must lie in [{Number(lo)}, {Number(hi)}]",
    };

    static double UnitTolerance(Tensor x) => x.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? 2e-2 : 1e-5;

    /// <summary>When any element of <paramref name="bad"/> is set: the message with the first such value of <paramref name="values"/> and its index.</summary>
    static void ThrowIfAny(Tensor bad, Tensor values, string name, string rule, string? prefix = null)
    {
        if (!bad.any().item<bool>()) return;
        var index = bad.nonzero()[0].data<long>().ToArray();
        var value = values[index.Select(i => (TensorIndex)i).ToArray()].to(ScalarType.Float64).item<double>();
        long count = bad.sum().item<long>();
        string where = $"[{string.Join(", ", index)}]";
        string seen = prefix is null ? $"got {Number(value)} at {where}" : $"got {prefix} of {Number(value)} at {where}";
        throw new ArgumentException($"{name} {rule}: {seen} ({count} of {bad.numel()} outside).", name);
    }

    static string Number(double x) => double.IsNaN(x) ? "NaN" : x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
}
