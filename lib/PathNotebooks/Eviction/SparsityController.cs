namespace PathNotebooks.Eviction;

/// <summary>One λ update of a <see cref="SparsityController"/>, for the pictures of λ and the kept count over training.</summary>
/// <param name="Step">training steps seen when the update ran</param>
/// <param name="Lambda">λ per head after the update</param>
/// <param name="Kept">moving average of kept tokens per sequence, per head</param>
public sealed record SparsityUpdate(int Step, double[] Lambda, double[] Kept);

/// <summary>
/// The λ of one LTE layer: a weight per head for the sparsity loss mean(λ_h · relu(r)), steered so that each head
/// keeps about <see cref="Target"/> tokens per training sequence (<see cref="SparsityControl"/> has the rule).
/// </summary>
public sealed class SparsityController
{
    readonly double[] lambda, average;
    readonly List<SparsityUpdate> history = new();
    bool seen;

    /// <param name="settings">the rule</param>
    /// <param name="heads">heads H</param>
    /// <param name="target">kept tokens per sequence each head should settle at</param>
    public SparsityController(SparsityControl settings, int heads, int target)
    {
        Settings = settings ?? throw new ArgumentNullException(nameof(settings));
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, "heads must be ≥ 1.");
        if (target < 1) throw new ArgumentOutOfRangeException(nameof(target), target, "target must be ≥ 1.");
        Target = target;
        lambda = Enumerable.Repeat(settings.InitialLambda, heads).ToArray();
        average = new double[heads];
    }

    public SparsityControl Settings { get; }

    /// <summary>Kept tokens per sequence and head the controller steers to.</summary>
    public int Target { get; }

    /// <summary>Training steps observed.</summary>
    public int Steps { get; private set; }

    /// <summary>λ per head now.</summary>
    public IReadOnlyList<double> Lambda => lambda;

    /// <summary>Moving average of kept tokens per sequence, per head.</summary>
    public IReadOnlyList<double> KeptAverage => average;

    /// <summary>Every update so far (one per <see cref="SparsityControl.UpdateEvery"/> steps).</summary>
    public IReadOnlyList<SparsityUpdate> History => history;

    /// <summary>
    /// Records one training step's kept count per head (mean over the batch of tokens with r &gt; 0 per sequence) and,
    /// every <see cref="SparsityControl.UpdateEvery"/> steps, moves λ: × Increase above the target, ÷ Decrease below
    /// LowerTolerance × target, clamped to [MinLambda, MaxLambda].
    /// </summary>
    public void Observe(IReadOnlyList<double> keptPerHead)
    {
        ArgumentNullException.ThrowIfNull(keptPerHead);
        if (keptPerHead.Count != lambda.Length)
            throw new ArgumentException($"keptPerHead must have one count per head ({lambda.Length}), got {keptPerHead.Count}.", nameof(keptPerHead));
        double rate = Settings.AverageRate;
        for (int h = 0; h < lambda.Length; h++)
            average[h] = seen ? (1 - rate) * average[h] + rate * keptPerHead[h] : keptPerHead[h];
        seen = true;
        Steps++;
        if (Steps % Settings.UpdateEvery != 0) return;
        for (int h = 0; h < lambda.Length; h++)
        {
            if (average[h] > Target) lambda[h] *= Settings.Increase;
            else if (average[h] < Settings.LowerTolerance * Target) lambda[h] /= Settings.Decrease;
            lambda[h] = Math.Clamp(lambda[h], Settings.MinLambda, Settings.MaxLambda);
        }
        history.Add(new SparsityUpdate(Steps, lambda.ToArray(), average.ToArray()));
    }
}
