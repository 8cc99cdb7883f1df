using PathNotebooks.Mixers;
using PathNotebooks.Positional;

namespace PathNotebooks.Softmax;

/// <summary>
/// Causal multi-head softmax attention with a fixed position signal (NoPE, RoPE or ALiBi), optionally a sliding
/// window. Decodes with a KV cache (<see cref="KvCache"/>), a ring buffer of <see cref="Window"/> slots when windowed.
/// </summary>
public sealed record SoftmaxAttentionSpec : MixerSpec
{
    readonly int? window;
    readonly double ropeBase = 10_000;

    public AttentionPosition Position { get; init; } = AttentionPosition.RoPE;

    /// <summary>Sliding window: each query sees this many most recent keys, itself included (null = full causal).</summary>
    public int? Window { get => window; init => window = Require(value, value is null or >= 1, nameof(Window), "must be ≥ 1 or null"); }

    /// <summary>RoPE base θ (10 000 in RoFormer).</summary>
    public double RopeBase { get => ropeBase; init => ropeBase = Require(value, value > 1, nameof(RopeBase), "must be > 1"); }

    public RopePairing RopePairing { get; init; } = RopePairing.RotateHalf;

    /// <summary>How a windowed layer computes its forward pass: <see cref="Softmax.WindowKernel.Auto"/> (dense up to
    /// T = 1024, blockwise beyond), or one form always. Ignored without a window; decoding always uses the ring buffer.</summary>
    public WindowKernel WindowKernel { get; init; } = WindowKernel.Auto;

    public override string Name => Window is int w ? $"{Position}-window{w}" : Position.ToString();

    public override void Check(MixerDimensions dimensions)
    {
        base.Check(dimensions);
        if (Position == AttentionPosition.RoPE && dimensions.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dimension; DModel/Heads = {dimensions.HeadDim}.", nameof(dimensions.Heads));
    }

    public override TokenMixer Create(MixerDimensions dimensions) => new SoftmaxAttention(this, dimensions);

    /// <summary>Keys and values of every cached token plus an int64 position per slot: min(context, W) slots in use,
    /// but a ring buffer allocates its W slots at the first token.</summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long slots = Window ?? context;
        return slots * (2L * batch * dimensions.DModel * ElementBytes(dtype) + sizeof(long));
    }
}
