namespace PathNotebooks.Cuda;

/// <summary>When a layer or op runs its fused CUDA kernel (<see cref="FusedAttention"/>) instead of its TorchSharp forms.</summary>
public enum FusedKernelUse
{
    /// <summary>Never: the TorchSharp forms only.</summary>
    Off,
    /// <summary>When the inputs are already bf16 or fp16 on a CUDA device the kernels support: same dtype, same
    /// precision class as the TorchSharp forms.</summary>
    HalfPrecisionInputs,
    /// <summary>As <see cref="HalfPrecisionInputs"/>, and a layer also casts float32 q, k, v to bf16 for the attention
    /// (float32 accumulation inside; output and gradients back in float32): mixed-precision attention, the usual
    /// training setting. Ops never cast; only layers do.</summary>
    CastFloat32ToBf16,
}
