using PathNotebooks.Cuda;

namespace PathNotebooks.Kernels;

/// <summary>What the registry's fused CUDA variants (<see cref="FusedAttention"/>) accept.</summary>
static class FusedKernelVariants
{
    /// <summary>Null when the fused kernels run these inputs; else why not (device, dtype, head dimension, Dv ≠ D, no host).</summary>
    public static string? WhyNot(KernelInputs i) =>
        FusedAttention.WhyNot(i.Q) ?? (i.V.shape[^1] != i.Q.shape[^1] ? $"Dv = {i.V.shape[^1]} ≠ D = {i.Q.shape[^1]}: the fused kernels need Dv = D" : null);
}
