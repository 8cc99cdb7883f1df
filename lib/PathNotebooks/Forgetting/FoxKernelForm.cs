namespace PathNotebooks.Forgetting;

/// <summary>The forms <see cref="ForgettingAttentionFast.Forward"/> chooses between.</summary>
public enum FoxKernelForm
{
    /// <summary><see cref="ForgettingAttentionFast.Sdpa"/>: fused SDPA, the T×T decay bias as a float mask.</summary>
    Sdpa,

    /// <summary><see cref="ForgettingAttentionFast.Chunked"/>: online softmax over chunks, no T×T tensor.</summary>
    Chunked,
    /// <summary><see cref="Cuda.FusedAttention"/>: one fused CUDA kernel per pass (bf16/fp16 on a supported GPU).</summary>
    Fused,
}
