using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.Eviction;

/// <summary>
/// The fixed-size decoding cache of an LTE layer, per head: a ring of the last W tokens (keys after RoPE, values,
/// scores), a buffer of b kept tokens whose first s slots hold the sinks, and the scorer's inputs of the last 13 tokens.
/// Everything is allocated at the first token; <see cref="MixerState.Bytes"/> never changes after that.
/// </summary>
/// <remarks>
/// The life of a token j: it enters the window ring; at step j + 6 its six future neighbours exist and it is scored
/// (lazily, from the scorer inputs of tokens j − 6 … j + 6); at step j + W it leaves the ring. Then a sink (j &lt; s)
/// goes to its own slot, never to be evicted; any other token is a candidate when r &gt; 0, takes a free slot if there is
/// one, else replaces the lowest-scored kept token if its own score is higher, else is dropped. The buffer therefore
/// always holds the b − s highest-scored candidates seen so far — what <see cref="KeptSet.Visible"/> computes with a buffer,
/// which is why a cached decode and the capped full forward agree. A batched prefill that keeps the top-b after the
/// prompt gives the same set.
/// </remarks>
public sealed class LteState : MixerState
{
    Tensor? windowKeys, windowValues, windowScores;    // [B, H, W, D], [B, H, W, Dv], [B, H, W]
    Tensor? windowPositions;                           // [W] int64, −1 = empty
    Tensor? keptKeys, keptValues, keptScores;          // [B, H, b, D], [B, H, b, Dv], [B, H, b] (−∞ free, +∞ sink)
    Tensor? keptPositions;                             // [B, H, b] int64, −1 = free
    Tensor? scorerInputs;                              // [B, H, 13, C], time order, the last min(t, 13) rows real

    /// <param name="batch">sequences B</param>
    /// <param name="window">ring slots W (≥ <see cref="KeepScorer.LookAhead"/>)</param>
    /// <param name="buffer">kept-token slots b (≥ <paramref name="sinks"/>)</param>
    /// <param name="sinks">sink slots s</param>
    public LteState(long batch, int window, int buffer, int sinks) : base(batch)
    {
        if (window < KeepScorer.LookAhead)
            throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be ≥ {KeepScorer.LookAhead}, the scorer's look-ahead.");
        if (sinks < 0) throw new ArgumentOutOfRangeException(nameof(sinks), sinks, "sinks must be ≥ 0.");
        if (buffer < sinks) throw new ArgumentOutOfRangeException(nameof(buffer), buffer, $"buffer ({buffer}) must hold at least the {sinks} sinks.");
        Window = window;
        Buffer = buffer;
        Sinks = sinks;
    }

    public int Window { get; }
    public int Buffer { get; }
    public int Sinks { get; }

    /// <summary>Tokens the cache can hold: W + b.</summary>
    public int Capacity => Window + Buffer;

    /// <summary>Which slots hold a token, ring then buffer <c>[B, H, W + b]</c> bool; null before the first token.</summary>
    public Tensor? Occupied => windowPositions is null ? null
        : cat(new[] { windowPositions.ge(0).expand(Batch, keptPositions!.shape[1], -1), keptPositions.ge(0) }, 2);

    /// <summary>Absolute positions of the kept tokens <c>[B, H, b]</c> (−1 for a free slot); null before the first token.</summary>
    public Tensor? KeptPositions => keptPositions;

    /// <summary>Scores of the kept tokens <c>[B, H, b]</c> (+∞ for sinks, −∞ for a free slot).</summary>
    public Tensor? KeptScores => keptScores;

    /// <summary>
    /// Softmax attention of one query per sequence and head over every token the cache holds (ring and buffer), without
    /// concatenating the two: logits of both parts, one softmax over them, and the two weighted sums.
    /// </summary>
    /// <param name="q">queries <c>[B, H, D]</c> (after RoPE)</param>
    /// <returns><c>[B, H, Dv]</c></returns>
    public Tensor Attend(Tensor q)
    {
        if (windowKeys is null) throw new InvalidOperationException("the cache is empty: Append a token first.");
        Shapes.Exactly(q, nameof(q), "[B, H, D]", Batch, windowKeys.shape[1], windowKeys.shape[3]);
        using var scope = NewDisposeScope();
        double scale = 1 / Math.Sqrt(q.shape[2]);
        var query = q.unsqueeze(-1);                                                              // [B, H, D, 1]
        var ring = windowKeys.matmul(query).squeeze(-1).mul(scale).masked_fill(windowPositions!.lt(0), double.NegativeInfinity);   // [B, H, W]
        var kept = keptKeys!.matmul(query).squeeze(-1).mul(scale).masked_fill(keptPositions!.lt(0), double.NegativeInfinity);     // [B, H, b]
        var p = cat(new[] { ring, kept }, -1).softmax(-1);
        var y = p[.., .., ..Window].unsqueeze(2).matmul(windowValues!) + p[.., .., Window..].unsqueeze(2).matmul(keptValues!);
        return y.squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>Tokens held now per sequence and head (ring and buffer) <c>[B, H]</c> int64.</summary>
    public Tensor Held() => Occupied is { } o ? o.sum(dim: -1) : zeros(Batch, 1, dtype: ScalarType.Int64);

    protected override IEnumerable<Tensor?> Tensors =>
        new[] { windowKeys, windowValues, windowScores, windowPositions, keptKeys, keptValues, keptScores, keptPositions, scorerInputs };

    protected override void DisposeTensors() =>
        windowKeys = windowValues = windowScores = windowPositions = keptKeys = keptValues = keptScores = keptPositions = scorerInputs = null;

    /// <summary>
    /// Consumes token t = <see cref="MixerState.Position"/>: stores its scorer input, scores token t − 6 with
    /// <paramref name="score"/>, moves token t − W out of the ring (to its sink slot, into the buffer, or away) and
    /// writes token t into the ring. Call inside no_grad.
    /// </summary>
    /// <param name="key">the token's key after RoPE <c>[B, H, D]</c></param>
    /// <param name="value">its value <c>[B, H, Dv]</c></param>
    /// <param name="scorerInput">what the scorer reads for this token <c>[B, H, C]</c> (key before RoPE and value)</param>
    /// <param name="score">(inputs <c>[B, H, n, C]</c> of consecutive tokens, position of the first) → scores <c>[B, H, n]</c></param>
    public void Append(Tensor key, Tensor value, Tensor scorerInput, Func<Tensor, long, Tensor> score)
    {
        Shapes.Exactly(key, nameof(key), "[B, H, D]", Batch, -1, -1);
        Shapes.Exactly(value, nameof(value), "[B, H, Dv]", Batch, key.shape[1], -1);
        Shapes.Exactly(scorerInput, nameof(scorerInput), "[B, H, C]", Batch, key.shape[1], -1);
        ArgumentNullException.ThrowIfNull(score);
        using var scope = NewDisposeScope();
        if (windowKeys is null) Allocate(key, value, scorerInput);
        long t = Position;
        int look = KeepScorer.LookAhead, field = KeepScorer.ReceptiveField;

        // 1. the scorer's inputs of the last 13 tokens, oldest first
        scorerInputs = Keep(scorerInputs, cat(new[] { scorerInputs![.., .., 1..], scorerInput.unsqueeze(2) }, 2));

        // 2. token t − 6 now has its six future neighbours: score it from tokens max(0, t − 12) … t
        if (t >= look)
        {
            long scored = t - look, first = Math.Max(0, scored - look);
            int rows = (int)(t - first + 1);
            var r = score(scorerInputs[.., .., (field - rows)..], first);                       // [B, H, rows]
            windowScores![.., .., (int)(scored % Window)] = r[.., .., (int)(scored - first)].to(windowScores.dtype);
        }

        // 3. token t − W leaves the ring
        if (t >= Window)
        {
            long leaving = t - Window;
            int slot = (int)(leaving % Window);
            var k = windowKeys![.., .., slot];
            var v = windowValues![.., .., slot];
            if (leaving < Sinks)
            {
                keptKeys![.., .., (int)leaving] = k;
                keptValues![.., .., (int)leaving] = v;
                keptScores![.., .., (int)leaving] = double.PositiveInfinity;
                keptPositions![.., .., (int)leaving] = leaving;
            }
            else if (Buffer > Sinks) Offer(k, v, windowScores![.., .., slot], leaving);
        }

        // 4. token t enters the ring
        int at = (int)(t % Window);
        windowKeys![.., .., at] = key;
        windowValues![.., .., at] = value;
        windowScores![.., .., at] = double.NaN;                                                  // scored at step t + 6
        windowPositions![at] = t;
        Advance();
    }

    /// <summary>Buffer rule for a candidate leaving the window: kept if r &gt; 0 and r beats the lowest-scored free or
    /// kept slot (free slots score −∞), per sequence and head.</summary>
    void Offer(Tensor k, Tensor v, Tensor r, long position)
    {
        // The slot to give up: the lowest score among the b − s non-sink slots (free slots score −∞); among equal
        // scores the latest token, so that the earlier one stays (the tie rule of KeptSet).
        var scores = keptScores![.., .., Sinks..];                                                // [B, H, b − s]
        var lowest = scores.amin(new long[] { -1 }, keepdim: true);
        var lowestSlot = where(scores.eq(lowest), keptPositions![.., .., Sinks..], -2L).argmax(-1);   // [B, H]
        var accept = r.gt(0).logical_and(r.gt(lowest.squeeze(-1)));                              // [B, H]
        var slot = (lowestSlot + Sinks).unsqueeze(-1);                                            // [B, H, 1]
        // In place: only the chosen slot of each (sequence, head) changes.
        void PutRow(Tensor store, Tensor candidate)                                               // store [B, H, b, D], candidate [B, H, D]
        {
            var index = slot.unsqueeze(-1).expand(-1, -1, 1, store.shape[3]);
            store.scatter_(2, index, where(accept.unsqueeze(-1).unsqueeze(-1), candidate.unsqueeze(2).to(store.dtype), store.gather(2, index)));
        }
        void PutScalar(Tensor store, Tensor candidate)                                            // store [B, H, b], candidate [B, H]
            => store.scatter_(2, slot, where(accept.unsqueeze(-1), candidate.unsqueeze(-1).to(store.dtype), store.gather(2, slot)));
        PutRow(keptKeys!, k);
        PutRow(keptValues!, v);
        PutScalar(keptScores, r);
        PutScalar(keptPositions!, full_like(lowestSlot, position));
    }

    void Allocate(Tensor key, Tensor value, Tensor scorerInput)
    {
        long b = key.shape[0], h = key.shape[1];
        var device = key.device;
        windowKeys = Keep(null, zeros(new[] { b, h, Window, key.shape[2] }, dtype: key.dtype, device: device));
        windowValues = Keep(null, zeros(new[] { b, h, Window, value.shape[2] }, dtype: value.dtype, device: device));
        windowScores = Keep(null, full(new[] { b, h, Window }, double.NaN, dtype: key.dtype, device: device));
        windowPositions = Keep(null, full(new long[] { Window }, -1L, dtype: ScalarType.Int64, device: device));
        keptKeys = Keep(null, zeros(new[] { b, h, Buffer, key.shape[2] }, dtype: key.dtype, device: device));
        keptValues = Keep(null, zeros(new[] { b, h, Buffer, value.shape[2] }, dtype: value.dtype, device: device));
        keptScores = Keep(null, full(new[] { b, h, Buffer }, double.NegativeInfinity, dtype: key.dtype, device: device));
        keptPositions = Keep(null, full(new[] { b, h, Buffer }, -1L, dtype: ScalarType.Int64, device: device));
        scorerInputs = Keep(null, zeros(new[] { b, h, KeepScorer.ReceptiveField, scorerInput.shape[2] }, dtype: scorerInput.dtype, device: device));
    }
}
