using static TorchSharp.torch;

namespace PathNotebooks.Forgetting;

/// <summary>
/// Decay matrices exp(D) <c>[T, T]</c> for a few hand-made gate patterns, for pictures: entry (i, j) is the factor
/// ∏_{l=j+1..i} f_l by which query i's score for key j is scaled (0 above the diagonal). float32.
/// </summary>
public static class DecayPatterns
{
    /// <summary>Constant gate f: exp(D)_ij = f^(i−j), a fixed exponential decay — ALiBi with slope −log f.</summary>
    public static Tensor Constant(int length, double forget)
    {
        CheckLength(length);
        CheckForget(forget);
        return ForgetGate.DecayMatrix(full(length, Math.Log(forget), dtype: ScalarType.Float32));
    }

    /// <summary>
    /// Gate <paramref name="forget"/> everywhere except ≈ 0 (<paramref name="resetForget"/>) at <paramref name="resetAt"/>:
    /// queries at or after the reset no longer see keys before it (block structure).
    /// </summary>
    public static Tensor Reset(int length, int resetAt, double forget = 0.98, double resetForget = 1e-6)
    {
        CheckLength(length);
        if (resetAt < 0 || resetAt >= length) throw new ArgumentOutOfRangeException(nameof(resetAt), resetAt, $"resetAt must be in [0, {length}).");
        if (!(resetForget > 0 && resetForget <= 1)) throw new ArgumentOutOfRangeException(nameof(resetForget), resetForget, "resetForget must be in (0, 1].");
        CheckForget(forget);
        var logf = full(length, Math.Log(forget), dtype: ScalarType.Float32);
        logf[resetAt] = tensor((float)Math.Log(resetForget));
        return ForgetGate.DecayMatrix(logf);
    }

    /// <summary>Random data-dependent gates f = σ(z + <paramref name="bias"/>), z ~ N(0, 1), seeded; <c>[T, T]</c>.</summary>
    public static Tensor Random(int length, int seed = 0, double bias = 2.0)
    {
        CheckLength(length);
        var generator = new Generator((ulong)seed);
        var z = randn(length, generator: generator, dtype: ScalarType.Float32) + bias;
        return ForgetGate.DecayMatrix(ForgetGate.LogForget(z));
    }

    static void CheckForget(double forget)
    {
        if (!(forget > 0 && forget <= 1)) throw new ArgumentOutOfRangeException(nameof(forget), forget, "forget must be in (0, 1].");
    }

    static void CheckLength(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
    }
}
