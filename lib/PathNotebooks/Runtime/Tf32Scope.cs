using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Runtime;

/// <summary>
/// Lets CUDA float32 matmuls use TF32 tensor cores (10-bit mantissa, float32 range, float32 accumulation) for the
/// lifetime of the scope, then restores the previous setting. Kernels that compute half-precision inputs in float32
/// use it: TF32 still carries more bits than the bf16/fp16 inputs, and it is several times faster than full float32.
/// float32 inputs are never downgraded, and CPU tensors are unaffected.
/// </summary>
public sealed class Tf32Scope : IDisposable
{
    readonly bool restore;

    /// <summary>Whether TF32 was switched on by this scope.</summary>
    public bool Active => restore;
    readonly bool previous;

    Tf32Scope(bool enable)
    {
        if (!enable) return;
        try
        {
            previous = backends.cuda.matmul.allow_tf32;
            backends.cuda.matmul.allow_tf32 = true;
            restore = true;
        }
        catch (Exception)
        {
            // A libtorch without the switch: run in full float32 (slower, never wrong).
        }
    }

    /// <summary>TF32 on while the scope lives iff <paramref name="reference"/> is a half-precision CUDA tensor.</summary>
    public static Tf32Scope For(Tensor reference) => For(reference, IsHalf(reference.dtype));

    /// <summary>TF32 on iff <paramref name="halfPrecisionInputs"/> and <paramref name="reference"/> lives on CUDA.</summary>
    public static Tf32Scope For(Tensor reference, bool halfPrecisionInputs) =>
        new(halfPrecisionInputs && reference.device_type == DeviceType.CUDA);

    static bool IsHalf(ScalarType t) => t is ScalarType.BFloat16 or ScalarType.Float16;

    public void Dispose()
    {
        if (restore) backends.cuda.matmul.allow_tf32 = previous;
    }
}
