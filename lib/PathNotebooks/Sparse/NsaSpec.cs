using PathNotebooks.Mixers;

namespace PathNotebooks.Sparse;

/// <summary>
/// Native sparse attention as a token mixer (<see cref="NativeSparseAttention"/>): compressed, selected and
/// sliding-window branches mixed by per-head gates. The defaults are the laNSA settings (blocks of 64, 16 selected,
/// window 512); scale all three down together for short sequences. Decodes with an <see cref="NsaState"/>.
/// </summary>
public sealed record NsaSpec : MixerSpec
{
    readonly int blockSize = 64, selectedBlocks = 16, window = 512;
    readonly int? kvHeads;
    readonly double ropeBase = 10_000;

    /// <summary>Block length l of compression and selection (≥ 1).</summary>
    public int BlockSize { get => blockSize; init => blockSize = Require(value, value >= 1, nameof(BlockSize), "must be ≥ 1"); }

    /// <summary>Blocks n the selected branch reads per query (≥ 1), the forced first, previous and current ones included.</summary>
    public int SelectedBlocks { get => selectedBlocks; init => selectedBlocks = Require(value, value >= 1, nameof(SelectedBlocks), "must be ≥ 1"); }

    /// <summary>Tokens W of the sliding-window branch, itself included (≥ 1).</summary>
    public int Window { get => window; init => window = Require(value, value >= 1, nameof(Window), "must be ≥ 1"); }

    /// <summary>Key/value heads (GQA groups; null = one per query head). All query heads of a group select the same blocks.</summary>
    public int? KvHeads { get => kvHeads; init => kvHeads = Require(value, value is null or >= 1, nameof(KvHeads), "must be ≥ 1 or null"); }

    /// <summary>Rotary embedding of q and k (rotate-half pairing).</summary>
    public bool Rope { get; init; } = true;

    /// <summary>RoPE base θ.</summary>
    public double RopeBase { get => ropeBase; init => ropeBase = Require(value, value > 1, nameof(RopeBase), "must be > 1"); }

    public override string Name => "NSA";

    /// <summary>Key/value heads at these widths.</summary>
    public int KvHeadsFor(MixerDimensions dimensions) => KvHeads ?? dimensions.Heads;

    public override void Check(MixerDimensions dimensions)
    {
        base.Check(dimensions);
        if (dimensions.Heads % KvHeadsFor(dimensions) != 0)
            throw new ArgumentException($"KvHeads ({KvHeads}) must divide Heads ({dimensions.Heads}).", nameof(KvHeads));
        if (Rope && dimensions.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dimension; DModel/Heads = {dimensions.HeadDim}.", nameof(dimensions.Heads));
    }

    /// <summary>
    /// Throws naming <see cref="SelectedBlocks"/> when a model meant for sequences of <paramref name="length"/> tokens
    /// would select more blocks than such a sequence has: the selected branch would read everything, i.e. be full
    /// attention. (The layer itself accepts any length: early queries of every sequence see fewer blocks than n.)
    /// </summary>
    public void CheckLength(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        long blocks = (length + BlockSize - 1) / BlockSize;
        if (SelectedBlocks > blocks)
            throw new ArgumentOutOfRangeException(nameof(SelectedBlocks), SelectedBlocks,
                $"SelectedBlocks ({SelectedBlocks}) is larger than the {blocks} blocks of {BlockSize} tokens in a {length}-token sequence.");
    }

    public override TokenMixer Create(MixerDimensions dimensions) => new NativeSparseAttention(this, dimensions);

    /// <summary>The full KV cache (a key and a value per token and KV head) plus one mean key and value per complete block.</summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long perRow = 2L * batch * KvHeadsFor(dimensions) * dimensions.HeadDim * ElementBytes(dtype);
        return (context + context / BlockSize) * perRow;
    }
}
