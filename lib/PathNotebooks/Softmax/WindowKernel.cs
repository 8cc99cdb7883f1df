namespace PathNotebooks.Softmax;

/// <summary>How a windowed softmax-attention layer computes its forward pass (<see cref="SoftmaxAttentionSpec.WindowKernel"/>).</summary>
public enum WindowKernel
{
    /// <summary>Dense while T ≤ <see cref="SlidingWindowAttention.DenseUpTo"/> or the window covers the whole sequence,
    /// blockwise beyond: short sequences keep the exact dense computation (and its rounding).</summary>
    Auto,
    /// <summary>One fused SDPA call with a <c>[T, T]</c> band mask (<see cref="SlidingWindowAttention.Dense"/>).</summary>
    Dense,
    /// <summary>Query blocks against key tiles of C + W − 1 keys, never a <c>[T, T]</c> tensor (<see cref="SlidingWindowAttention.Blockwise"/>).</summary>
    Blockwise,
}
