using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.Sparse;

/// <summary>
/// Decoding state of native sparse attention: every key (after RoPE) and value so far, and the mean key and value of
/// every complete block. It grows with the context (one token per step, one block mean every l steps), but a step
/// reads only the block means, the n selected blocks and the window.
/// </summary>
public sealed class NsaState : MixerState
{
    Tensor? keys, values;                // [B, Hkv, t, D]
    Tensor? blockKeys, blockValues;      // [B, Hkv, ⌊t/l⌋, D]

    /// <param name="batch">sequences B</param>
    /// <param name="blockSize">block length l</param>
    public NsaState(long batch, int blockSize) : base(batch)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be ≥ 1.");
        BlockSize = blockSize;
    }

    /// <summary>Block length l.</summary>
    public int BlockSize { get; }

    /// <summary>Cached keys <c>[B, Hkv, t, D]</c>; null when empty.</summary>
    public Tensor? Keys => keys;

    /// <summary>Cached values <c>[B, Hkv, t, Dv]</c>; null when empty.</summary>
    public Tensor? Values => values;

    /// <summary>Mean key of each complete block <c>[B, Hkv, ⌊t/l⌋, D]</c>; null before the first block completes.</summary>
    public Tensor? BlockKeys => blockKeys;

    /// <summary>Mean value of each complete block <c>[B, Hkv, ⌊t/l⌋, Dv]</c>; null before the first block completes.</summary>
    public Tensor? BlockValues => blockValues;

    protected override IEnumerable<Tensor?> Tensors => new[] { keys, values, blockKeys, blockValues };

    protected override void DisposeTensors() => keys = values = blockKeys = blockValues = null;

    /// <summary>Stores the current token's key and value (<c>[B, Hkv, D]</c>), adds the block mean when this token
    /// completes a block, and advances. Call inside no_grad.</summary>
    public void Append(Tensor k, Tensor v)
    {
        Shapes.Exactly(k, nameof(k), "[B, Hkv, D]", Batch, -1, -1);
        Shapes.Exactly(v, nameof(v), "[B, Hkv, Dv]", Batch, k.shape[1], -1);
        using var scope = NewDisposeScope();
        keys = Keep(keys, keys is null ? k.unsqueeze(2) : cat(new[] { keys, k.unsqueeze(2) }, 2));
        values = Keep(values, values is null ? v.unsqueeze(2) : cat(new[] { values, v.unsqueeze(2) }, 2));
        int length = Position + 1;
        if (length % BlockSize == 0)
        {
            Tensor Mean(Tensor x) => x[.., .., (length - BlockSize)..length].mean(new long[] { 2 }, keepdim: true);
            blockKeys = Keep(blockKeys, blockKeys is null ? Mean(keys) : cat(new[] { blockKeys, Mean(keys) }, 2));
            blockValues = Keep(blockValues, blockValues is null ? Mean(values) : cat(new[] { blockValues, Mean(values) }, 2));
        }
        Advance();
    }
}
