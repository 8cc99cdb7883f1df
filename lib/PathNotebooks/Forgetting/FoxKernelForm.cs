namespace PathNotebooks.Forgetting;

/// <summary>The two forms <see cref="ForgettingAttentionFast.Forward"/> chooses between.</summary>
public enum FoxKernelForm
{
    /// <summary><see cref="ForgettingAttentionFast.Sdpa"/>: fused SDPA, the T×T decay bias as a float mask.</summary>
    Sdpa,

    /// <summary><see cref="ForgettingAttentionFast.Chunked"/>: online softmax over chunks, no T×T tensor.</summary>
    Chunked,
}
