using PathNotebooks.Mixers;

namespace PathNotebooks.Eviction;

/// <summary>
/// Learnable token eviction (LTE): softmax attention over the first <see cref="Sinks"/> tokens, the last
/// <see cref="Window"/> tokens and the tokens a small per-head CNN chose to keep (<see cref="LteAttention"/>). Training
/// keeps every token the scorer keeps and pushes the count towards <see cref="Buffer"/> with an adaptive sparsity loss
/// (<see cref="Controller"/>); evaluation and decoding keep at most <see cref="Buffer"/> tokens per head (sinks
/// included), so the decoding cache has a fixed size however long the context (<see cref="LteState"/>).
/// </summary>
/// <remarks>
/// The LTE paper's laLTE layers use a window of 768, a buffer of 512 and 4 sinks at a training length of 4 096; scale
/// window and buffer down together for short sequences. The window must cover the scorer's look-ahead
/// (<see cref="KeepScorer.LookAhead"/> = 6 tokens) so that a keep decision only matters to queries that already see
/// the six tokens it was computed from: that is what keeps the layer causal.
/// </remarks>
public sealed record LteSpec : MixerSpec
{
    readonly int window = 768, buffer = 512, sinks = 4;
    readonly double ropeBase = 10_000;
    readonly SparsityControl controller = new();

    /// <summary>Recent tokens W every query sees, itself included: keys j with i − W &lt; j ≤ i (≥ <see cref="KeepScorer.LookAhead"/>).</summary>
    public int Window
    {
        get => window;
        init => window = Require(value, value >= KeepScorer.LookAhead, nameof(Window),
            $"must be ≥ {KeepScorer.LookAhead} (the scorer looks {KeepScorer.LookAhead} tokens ahead; a shorter window would let a query see a decision made from tokens after it)");
    }

    /// <summary>Kept-token slots b per head, the sinks included (≥ <see cref="Sinks"/>): the target of training and the
    /// cap of evaluation and decoding.</summary>
    public int Buffer { get => buffer; init => buffer = Require(value, value >= 1, nameof(Buffer), "must be ≥ 1"); }

    /// <summary>The first tokens s every query always sees (attention sinks); never evicted.</summary>
    public int Sinks { get => sinks; init => sinks = Require(value, value >= 0, nameof(Sinks), "must be ≥ 0"); }

    /// <summary>Rotary embedding of q and k (rotate-half pairing); the scorer always reads the key before rotation.</summary>
    public bool Rope { get; init; } = true;

    /// <summary>RoPE base θ.</summary>
    public double RopeBase { get => ropeBase; init => ropeBase = Require(value, value > 1, nameof(RopeBase), "must be > 1"); }

    /// <summary>The sparsity loss and its λ controller (training only).</summary>
    public SparsityControl Controller { get => controller; init => controller = value ?? throw new ArgumentNullException(nameof(Controller)); }

    public override string Name => "LTE";

    /// <summary>Slots of the kept-token buffer that the scorer fills (the rest hold the sinks).</summary>
    public int FreeSlots => Buffer - Sinks;

    public override void Check(MixerDimensions dimensions)
    {
        base.Check(dimensions);
        if (Buffer < Sinks)
            throw new ArgumentOutOfRangeException(nameof(Buffer), Buffer, $"Buffer ({Buffer}) must hold at least the {Sinks} sinks.");
        if (Rope && dimensions.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dimension; DModel/Heads = {dimensions.HeadDim}.", nameof(dimensions.Heads));
    }

    public override TokenMixer Create(MixerDimensions dimensions) => new LteAttention(this, dimensions);

    /// <summary>
    /// The fixed-size cache of <see cref="LteState"/>, allocated in full at the first token: per head a window ring of W
    /// keys, values and scores, a buffer of b keys, values, scores and int64 positions, and the scorer's inputs (key
    /// before RoPE and value) of the last 2·6 + 1 tokens; plus the W int64 positions of the ring. The same at every context.
    /// </summary>
    public override long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype)
    {
        CheckStateBytes(dimensions, batch, context);
        long heads = batch * dimensions.Heads, d = dimensions.HeadDim, e = ElementBytes(dtype);
        long ring = heads * Window * (2 * d + 1) * e + Window * sizeof(long);
        long kept = heads * Buffer * ((2 * d + 1) * e + sizeof(long));
        long scorer = heads * KeepScorer.ReceptiveField * 2 * d * e;
        return ring + kept + scorer;
    }
}
