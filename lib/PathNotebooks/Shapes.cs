using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks;

/// <summary>Argument checks that fail with a message naming the argument and the expected shape.</summary>
public static class Shapes
{
    /// <summary>Throws unless <paramref name="t"/> has <paramref name="dims"/> dimensions; <paramref name="expected"/> names them, e.g. "[B, H, T, D]".</summary>
    public static void Rank(Tensor t, int dims, string name, string expected)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() != dims)
            throw new ArgumentException($"{name} must have shape {expected} ({dims} dimensions), got {Describe(t)}.", name);
    }

    /// <summary>Throws unless <paramref name="t"/> has exactly the given sizes (-1 = any).</summary>
    public static void Exactly(Tensor t, string name, string expected, params long[] sizes)
    {
        Rank(t, sizes.Length, name, expected);
        for (int i = 0; i < sizes.Length; i++)
            if (sizes[i] >= 0 && t.shape[i] != sizes[i])
                throw new ArgumentException($"{name} must have shape {expected} = [{string.Join(", ", sizes.Select(s => s < 0 ? "*" : s.ToString()))}], got {Describe(t)}.", name);
    }

    /// <summary>Throws unless the tensor is floating point (float16/bfloat16/float32/float64).</summary>
    public static void Floating(Tensor t, string name)
    {
        if (!t.dtype.IsFloatingPoint())
            throw new ArgumentException($"{name} must be a floating-point tensor (float32, float64 or bfloat16), got {t.dtype}.", name);
    }

    /// <summary>"[2, 3, 4] float32" for messages.</summary>
    public static string Describe(Tensor t) => $"[{string.Join(", ", t.shape)}] {t.dtype}";

    static bool IsFloatingPoint(this ScalarType s) =>
        s is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;
}
