using PathNotebooks.Sparse;
using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>
/// Native sparse attention at the laNSA settings (blocks of 64, 16 selected blocks, window 512), without GQA
/// (Hkv = H, as the input bundle has one k per head). The three branch gates are fixed at 1/3 each inside the op:
/// they are an elementwise product whose cost is negligible next to the three attentions, and leaving them out
/// keeps the shared input bundle unchanged; their gradients are tested with the layer.
/// </summary>
static class NsaKernels
{
    /// <summary>Block length l.</summary>
    public const int BlockSize = 64;

    /// <summary>Blocks n read by the selected branch.</summary>
    public const int SelectedBlocks = 16;

    /// <summary>Tokens of the sliding-window branch.</summary>
    public const int Window = 512;

    public static KernelOp Op { get; } = new("nsa", $"native sparse attention (blocks of {BlockSize}, n = {SelectedBlocks}, W = {Window})",
        KernelInputSpec.QueryKeyValue, Reference, new[]
        {
            new KernelVariant($"nsa batched (l={BlockSize}, n={SelectedBlocks}, W={Window})",
                i => SparseAttention.Forward(i.Q, i.K, i.V, Gates(i.Q), BlockSize, SelectedBlocks, Window)),
        });

    /// <summary>g = 1/3 for every branch, <c>[B, H, T, 3]</c> in q's dtype.</summary>
    static Tensor Gates(Tensor q) => full(q.shape[0], q.shape[1], q.shape[2], 3, 1.0 / 3, dtype: q.dtype, device: q.device);

    /// <summary>The per-query form (<see cref="SparseAttentionNaive"/>) in float64.</summary>
    static Tensor Reference(KernelInputs i) => SparseAttentionNaive.Forward(i.Q, i.K, i.V, Gates(i.Q.to(ScalarType.Float64)),
        BlockSize, SelectedBlocks, Window);
}
