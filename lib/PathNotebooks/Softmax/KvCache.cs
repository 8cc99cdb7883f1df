using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.Softmax;

/// <summary>
/// Decoding state of softmax attention: the keys (already rotated, for RoPE) and values of the tokens seen so far, with
/// their absolute positions. Unbounded, it grows by one slot per token (memory ∝ t). With a capacity (sliding window W)
/// it is a ring buffer: token t overwrites slot t mod W, so memory stays at W slots however long the sequence.
/// </summary>
public sealed class KvCache : MixerState
{
    Tensor? keys;        // [B, H, n, D]
    Tensor? values;      // [B, H, n, D]
    Tensor? positions;   // [n] int64, absolute position held by each slot (−1 = empty)

    /// <param name="batch">sequences B</param>
    /// <param name="capacity">ring-buffer slots (the window), or null for an unbounded cache</param>
    public KvCache(long batch, int? capacity) : base(batch)
    {
        if (capacity is < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be ≥ 1 or null.");
        Capacity = capacity;
    }

    /// <summary>Ring-buffer slots, or null when the cache grows without bound.</summary>
    public int? Capacity { get; }

    /// <summary>Cached keys <c>[B, H, n, D]</c> (slot order, not time order, once a ring buffer wraps); null when empty.</summary>
    public Tensor? Keys => keys;

    /// <summary>Cached values <c>[B, H, n, D]</c>; null when empty.</summary>
    public Tensor? Values => values;

    /// <summary>Absolute position of each slot <c>[n]</c> (int64, −1 for a slot not yet written); null when empty.</summary>
    public Tensor? Positions => positions;

    protected override IEnumerable<Tensor?> Tensors => new[] { keys, values, positions };

    protected override void DisposeTensors() => keys = values = positions = null;

    /// <summary>Stores the current token's key and value (both <c>[B, H, D]</c>) at position <see cref="MixerState.Position"/>
    /// and advances. Call inside no_grad.</summary>
    public void Append(Tensor k, Tensor v)
    {
        Shapes.Exactly(k, nameof(k), "[B, H, D]", Batch, -1, -1);
        Shapes.Exactly(v, nameof(v), "[B, H, D]", Batch, k.shape[1], -1);
        using var scope = NewDisposeScope();
        var position = tensor(new long[] { Position }, device: k.device);
        if (Capacity is not int slots)
        {
            keys = Keep(keys, keys is null ? k.unsqueeze(2) : cat(new[] { keys, k.unsqueeze(2) }, 2));
            values = Keep(values, values is null ? v.unsqueeze(2) : cat(new[] { values, v.unsqueeze(2) }, 2));
            positions = Keep(positions, positions is null ? position : cat(new[] { positions, position }));
        }
        else
        {
            if (keys is null)
            {
                keys = Keep(null, zeros(k.shape[0], k.shape[1], slots, k.shape[2], dtype: k.dtype, device: k.device));
                values = Keep(null, zeros(v.shape[0], v.shape[1], slots, v.shape[2], dtype: v.dtype, device: v.device));
                positions = Keep(null, full(slots, -1L, dtype: ScalarType.Int64, device: k.device));
            }
            long slot = Position % slots;
            keys[.., .., slot] = k;
            values![.., .., slot] = v;
            positions![slot] = position[0];
        }
        Advance();
    }
}
