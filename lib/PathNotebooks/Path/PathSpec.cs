using PathNotebooks.Mixers;

namespace PathNotebooks.PaTH;

/// <summary>
/// PaTH attention (data-dependent Householder products between key and query), and PaTH-FoX with
/// <see cref="ForgetGate"/>. No other position signal: PaTH is the encoding. Decodes with a <see cref="PathState"/>.
/// </summary>
public sealed record PathSpec : MixerSpec
{
    readonly int chunkSize = 64, lowRank = 32;

    /// <summary>Chunk size of the blockwise algorithm (any value gives the same result; speed differs).</summary>
    public int ChunkSize { get => chunkSize; init => chunkSize = Require(value, value >= 1, nameof(ChunkSize), "must be ≥ 1"); }

    /// <summary>Rank of the low-rank projection that produces w.</summary>
    public int LowRank { get => lowRank; init => lowRank = Require(value, value >= 1, nameof(LowRank), "must be ≥ 1"); }

    /// <summary>Adds FoX's data-dependent forget gate log f to the logits (PaTH-FoX).</summary>
    public bool ForgetGate { get; init; }

    /// <summary>How the kernel's UT transforms invert their unit lower-triangular matrices (same result, speed differs by device).</summary>
    public UnitLowerInverse Inverse { get; init; } = UnitLowerInverse.Auto;

    public override string Name => ForgetGate ? "PaTH-FoX" : "PaTH";

    public override TokenMixer Create(MixerDimensions dimensions) => new PathAttention(this, dimensions);

    /// <summary>Per token a transformed key, a value and a cumulative gate per head; plus the latest gate per head and
    /// the convolution's last two inputs. All in float32 (float64 for a float64 model).</summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long e = ElementBytes(Householder.AccumulationType(dtype));
        long perToken = batch * (2L * dimensions.DModel + dimensions.Heads) * e;
        return context * perToken + batch * dimensions.Heads * e + batch * dimensions.DModel * 2L * e;
    }
}
