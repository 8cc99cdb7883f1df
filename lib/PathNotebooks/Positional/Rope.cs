using static TorchSharp.torch;

namespace PathNotebooks.Positional;

/// <summary>Which coordinates RoPE rotates together. The two are not weight-compatible.</summary>
public enum RopePairing
{
    /// <summary>Adjacent pairs (2i, 2i+1): RoFormer, GPT-J.</summary>
    Interleaved,
    /// <summary>Pairs (i, i + d/2) via rotate-half: GPT-NeoX, Llama, flash-linear-attention.</summary>
    RotateHalf,
}

/// <summary>
/// Rotary position embedding (Su et al., RoFormer, arXiv 2104.09864).
/// Pair i of a head vector is rotated by the angle m·θᵢ at position m, θᵢ = base^(−2i/d), so that
/// ⟨R_m q, R_n k⟩ = qᵀ R_{n−m} k depends only on the offset n − m.
/// </summary>
public static class Rope
{
    /// <summary>θᵢ = base^(−2i/d) for i = 0 … d/2 − 1, float64 <c>[d/2]</c>.</summary>
    public static Tensor Frequencies(int headDim, double @base = 10_000)
    {
        CheckHeadDim(headDim, nameof(headDim));
        if (@base <= 1) throw new ArgumentOutOfRangeException(nameof(@base), @base, "base must be > 1.");
        return pow(@base, -arange(0, headDim, 2, dtype: ScalarType.Float64) / headDim);
    }

    /// <summary>cos and sin of m·θᵢ for m = offset … offset + length − 1: two tensors <c>[T, d/2]</c> (float32 unless asked for float64).</summary>
    public static (Tensor Cos, Tensor Sin) Angles(int length, int headDim, double @base = 10_000, long offset = 0, Device? device = null,
        ScalarType dtype = ScalarType.Float32)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 0.");
        using var scope = NewDisposeScope();
        var m = arange(offset, offset + length, dtype: ScalarType.Float64);
        var angles = outer(m, Frequencies(headDim, @base));                       // [T, d/2]
        var cos = angles.cos().to(dtype, device ?? CPU);
        var sin = angles.sin().to(dtype, device ?? CPU);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates <paramref name="x"/> <c>[..., T, D]</c> (e.g. <c>[B, H, T, D]</c>) by its positions offset … offset + T − 1.</summary>
    public static Tensor Apply(Tensor x, RopePairing pairing = RopePairing.RotateHalf, double @base = 10_000, long offset = 0)
    {
        CheckInput(x);
        var (cos, sin) = Angles((int)x.shape[^2], (int)x.shape[^1], @base, offset, x.device,
            x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32);
        using (cos) using (sin) return Apply(x, cos, sin, pairing);
    }

    /// <summary>Rotates <paramref name="x"/> <c>[..., T, D]</c> with precomputed tables <c>[T, D/2]</c> (computed in fp32, cast back).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin, RopePairing pairing = RopePairing.RotateHalf)
    {
        CheckInput(x);
        long t = x.shape[^2], half = x.shape[^1] / 2;
        Shapes.Exactly(cos, nameof(cos), "[T, D/2]", t, half);
        Shapes.Exactly(sin, nameof(sin), "[T, D/2]", t, half);
        using var scope = NewDisposeScope();
        var xf = x.to(cos.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32);
        Tensor rotated;
        if (pairing == RopePairing.RotateHalf)
        {
            // x = [a | b] with a, b ∈ R^{d/2}:  [a cos − b sin | b cos + a sin]
            var a = xf[TensorIndex.Ellipsis, TensorIndex.Slice(0, half)];
            var b = xf[TensorIndex.Ellipsis, TensorIndex.Slice(half, null)];
            rotated = cat(new[] { a * cos - b * sin, b * cos + a * sin }, -1);
        }
        else
        {
            // x viewed as pairs (x₂ᵢ, x₂ᵢ₊₁): rotate each pair by its own angle.
            var pairs = xf.unflatten(xf.dim() - 1, new long[] { half, 2 });
            var a = pairs[TensorIndex.Ellipsis, 0];
            var b = pairs[TensorIndex.Ellipsis, 1];
            rotated = stack(new[] { a * cos - b * sin, a * sin + b * cos }, -1).flatten(-2);
        }
        return rotated.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// RoFormer's long-term decay bound (§3.4.3) as a function of relative distance r = 0 … maxDistance:
    /// (1/(d/2)) Σⱼ |Σ_{k≤j} e^{i r θₖ}|, the relative upper bound of |qᵀ R_r k| for fixed-norm q, k.
    /// </summary>
    public static double[] LongTermDecayBound(int headDim, int maxDistance, double @base = 10_000)
    {
        CheckHeadDim(headDim, nameof(headDim));
        var theta = Frequencies(headDim, @base).data<double>().ToArray();
        var result = new double[maxDistance + 1];
        for (int r = 0; r <= maxDistance; r++)
        {
            double re = 0, im = 0, sum = 0;
            foreach (var th in theta)
            {
                re += Math.Cos(r * th); im += Math.Sin(r * th);
                sum += Math.Sqrt(re * re + im * im);
            }
            result[r] = sum / theta.Length;
        }
        return result;
    }

    static void CheckHeadDim(int headDim, string name)
    {
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentException($"{name} must be a positive even number (RoPE rotates pairs), got {headDim}.", name);
    }

    static void CheckInput(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() < 2)
            throw new ArgumentException($"x must have shape [..., T, D] (e.g. [B, H, T, D]), got {Shapes.Describe(x)}.", nameof(x));
        if (x.shape[^1] % 2 != 0)
            throw new ArgumentException($"x must have an even head dimension D (RoPE rotates pairs), got shape {Shapes.Describe(x)}.", nameof(x));
        Shapes.Floating(x, nameof(x));
    }
}
