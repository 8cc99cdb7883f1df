using System.Diagnostics;
using CsCheck;
using static TorchSharp.torch;

namespace PathNotebooks.Checks;

/// <summary>
/// How much one property may run: at most <see cref="Cases"/> random cases and, once <see cref="Seconds"/> have passed,
/// no new ones (a case in flight finishes). <see cref="Seed"/> replays the case a failure printed.
/// </summary>
/// <param name="Cases">cases per property</param>
/// <param name="Seconds">time cap per property</param>
/// <param name="Seed">CsCheck seed to replay (what a failure prints after "seed"), or null for fresh cases</param>
/// <param name="FixedCases">draw case i from a fixed seed (i = 1, 2, …) instead of fresh ones, so that every run checks
/// the same cases and a failure is never luck; a failure is then reported unshrunk, with the seed that replays it</param>
public sealed record PropertyBudget(long Cases, double Seconds, string? Seed = null, bool FixedCases = false)
{
    /// <summary>
    /// What the test suite runs: small, bounded and the same cases every run (a red CI is reproducible; exploring new
    /// cases is what <c>pathnb check ops</c> is for).
    /// </summary>
    public static PropertyBudget Ci { get; } = new(Cases: 24, Seconds: 15, FixedCases: true);

    /// <summary>What <c>pathnb check ops</c> runs unless told otherwise.</summary>
    public static PropertyBudget Default { get; } = new(Cases: 200, Seconds: 60);
}

/// <summary>Where a property runs: the device and the dtypes its cases draw.</summary>
/// <param name="Device">CPU or CUDA</param>
/// <param name="DTypes">float64 and float32 on the CPU; float32, bfloat16 and float16 on CUDA</param>
public sealed record PropertyTarget(Device Device, IReadOnlyList<ScalarType> DTypes)
{
    /// <summary>The dtypes worth testing on a device type.</summary>
    public static PropertyTarget For(Device device) => new(device, device.type == TorchSharp.DeviceType.CUDA
        ? new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 }
        : new[] { ScalarType.Float64, ScalarType.Float32 });
}

/// <summary>The outcome of one property: cases run, time, and the shrunk failing case with its replay seed if any.</summary>
public sealed record PropertyOutcome(string Name, long Cases, TimeSpan Elapsed, string? Failure)
{
    public bool Passed => Failure is null;
}

/// <summary>
/// A property over random cases: for every case the check either passes or throws, and a throwing case is shrunk by
/// CsCheck to the smallest failing one it finds. Checks run one at a time (torch parallelises inside each op).
/// </summary>
public abstract class OpProperty(string name, string covers)
{
    /// <summary>Short name, e.g. "gdn forms".</summary>
    public string Name { get; } = name;

    /// <summary>What it covers, in words.</summary>
    public string Covers { get; } = covers;

    /// <summary>Runs the property within the budget.</summary>
    public abstract PropertyOutcome Run(PropertyTarget target, PropertyBudget budget);

    public override string ToString() => Name;
}

/// <summary>An <see cref="OpProperty"/> over cases of type <typeparamref name="T"/>.</summary>
public sealed class OpProperty<T>(string name, string covers, Func<PropertyTarget, Gen<T>> cases, Action<T, PropertyTarget> check)
    : OpProperty(name, covers)
{
    public override PropertyOutcome Run(PropertyTarget target, PropertyBudget budget)
    {
        if (budget.FixedCases && budget.Seed is null) return RunFixed(target, budget);
        long ran = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            cases(target).Sample(c =>
            {
                if (clock.Elapsed.TotalSeconds > budget.Seconds) return;                      // past the cap: no new cases
                Interlocked.Increment(ref ran);
                using var scope = NewDisposeScope();
                check(c, target);
            }, seed: budget.Seed, iter: budget.Cases, threads: 1, print: c => c?.ToString() ?? "null");
            return new PropertyOutcome(Name, ran, clock.Elapsed, null);
        }
        catch (CsCheckException e)
        {
            string cause = e.InnerException is { } inner ? $"\n{inner.GetType().Name}: {inner.Message}" : "";
            return new PropertyOutcome(Name, ran, clock.Elapsed, e.Message.TrimEnd() + cause);
        }
    }

    /// <summary>
    /// Case i from <c>PCG(stream i, seed i)</c>, i = 1 … Cases (time cap as usual). The seed string printed for a
    /// failing case is CsCheck's own, so <c>--seed</c> replays it (and shrinks it) through the random path.
    /// </summary>
    PropertyOutcome RunFixed(PropertyTarget target, PropertyBudget budget)
    {
        var gen = cases(target);
        var clock = Stopwatch.StartNew();
        long ran = 0;
        for (uint i = 1; i <= budget.Cases && clock.Elapsed.TotalSeconds <= budget.Seconds; i++)
        {
            var pcg = new PCG(i, 0x9E3779B97F4A7C15UL * i);
            string seed = pcg.ToString();
            T c = gen.Generate(pcg, null, out _);
            ran++;
            try
            {
                using var scope = NewDisposeScope();
                check(c, target);
            }
            catch (Exception e)
            {
                return new PropertyOutcome(Name, ran, clock.Elapsed,
                    $"Fixed case {i} failed: {c}\nSet seed: \"{seed}\" to replay it (pathnb check ops --only \"{Name}\" --seed {seed})\n{e.GetType().Name}: {e.Message}");
            }
        }
        return new PropertyOutcome(Name, ran, clock.Elapsed, null);
    }
}
