namespace PathNotebooks.Eviction;

/// <summary>
/// Settings of LTE's adaptive sparsity loss <c>mean(λ_h · relu(r))</c>: one λ per head, multiplied by
/// <see cref="Increase"/> while the moving average of kept tokens per sequence is above the target and divided by
/// <see cref="Decrease"/> while it is below <see cref="LowerTolerance"/> × target, checked every
/// <see cref="UpdateEvery"/> training steps; λ stays in [<see cref="MinLambda"/>, <see cref="MaxLambda"/>].
/// The defaults are the LTE paper's code settings.
/// </summary>
public sealed record SparsityControl
{
    readonly double initialLambda = 1e-9, increase = 1.5, decrease = 2, lowerTolerance = 0.95, averageRate = 2.0 / 17, minLambda = 1e-9, maxLambda = 1;
    readonly int updateEvery = 32;
    readonly int? target;

    /// <summary>λ at the start of training.</summary>
    public double InitialLambda { get => initialLambda; init => initialLambda = Check(value, value >= 0, nameof(InitialLambda), "must be ≥ 0"); }

    /// <summary>Factor applied to λ when too many tokens are kept (&gt; 1).</summary>
    public double Increase { get => increase; init => increase = Check(value, value > 1, nameof(Increase), "must be > 1"); }

    /// <summary>Divisor applied to λ when too few tokens are kept (&gt; 1).</summary>
    public double Decrease { get => decrease; init => decrease = Check(value, value > 1, nameof(Decrease), "must be > 1"); }

    /// <summary>Below this fraction of the target the count is too low (in (0, 1]).</summary>
    public double LowerTolerance { get => lowerTolerance; init => lowerTolerance = Check(value, value is > 0 and <= 1, nameof(LowerTolerance), "must be in (0, 1]"); }

    /// <summary>Rate of the exponential moving average of the kept count (in (0, 1]).</summary>
    public double AverageRate { get => averageRate; init => averageRate = Check(value, value is > 0 and <= 1, nameof(AverageRate), "must be in (0, 1]"); }

    /// <summary>Training steps between two λ updates.</summary>
    public int UpdateEvery { get => updateEvery; init => updateEvery = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(UpdateEvery), value, "UpdateEvery must be ≥ 1."); }

    public double MinLambda { get => minLambda; init => minLambda = Check(value, value > 0, nameof(MinLambda), "must be > 0"); }
    public double MaxLambda { get => maxLambda; init => maxLambda = Check(value, value > 0, nameof(MaxLambda), "must be > 0"); }

    /// <summary>Kept tokens per sequence and head the controller steers to; null = the layer's <see cref="LteSpec.Buffer"/>.</summary>
    public int? Target { get => target; init => target = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(Target), value, "Target must be ≥ 1 or null."); }

    static double Check(double value, bool valid, string field, string rule) =>
        valid && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(field, value, $"{field} {rule}.");
}
