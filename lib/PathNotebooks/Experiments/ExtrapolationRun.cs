using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>What one model learned: its loss curve, accuracy at each evaluation length and where its heads attend.</summary>
/// <param name="Encoding">the position encoding of every layer</param>
/// <param name="Seed">the seed index s (0 … Seeds − 1): initial weights, training batches and evaluation sequences</param>
/// <param name="Parameters">trainable parameters</param>
/// <param name="Curve">the training loss curve</param>
/// <param name="AccuracyAtLength">evaluation length → accuracy over every answerable position t ≥ lag of sequences of that length</param>
/// <param name="AccuracyByPosition">evaluation length → accuracy at each position t (0 for t &lt; lag, which has no answer)</param>
/// <param name="TrainSeconds">wall-clock training time</param>
/// <param name="Heads">attention at the copy offset, one entry per (layer, head), on sequences of the longest evaluation length</param>
public sealed record ExtrapolationRun(PositionEncoding Encoding, int Seed, long Parameters, List<TrainPoint> Curve,
    IReadOnlyDictionary<int, double> AccuracyAtLength, IReadOnlyDictionary<int, double[]> AccuracyByPosition, double TrainSeconds,
    IReadOnlyList<LagHeadAttention> Heads)
{
    /// <summary>The head that puts the most attention on the copy offset t − lag for queries inside the training length.</summary>
    public LagHeadAttention CopyHead => Heads.MaxBy(h => h.AtLagInside)!;
}

/// <summary>
/// Where one attention head looks on the lag-copy task (sequences of the longest evaluation length, batch mean).
/// "Inside L" are the queries lag ≤ t &lt; L, "beyond L" the queries t ≥ L.
/// </summary>
/// <param name="Layer">layer, 1-based</param>
/// <param name="Head">head, 1-based</param>
/// <param name="AtLagInside">mean probability on key t − lag, queries inside L</param>
/// <param name="AtLagBeyond">mean probability on key t − lag, queries beyond L</param>
/// <param name="FarBeyond">mean total probability on keys at least L back (offsets never seen in training), queries beyond L</param>
/// <param name="PeakOffset">the offset 1 … 2·lag with the most mean attention, queries inside L</param>
/// <param name="PeakMass">the mean attention on <paramref name="PeakOffset"/>, queries inside L</param>
/// <param name="AtLagByPosition">probability on key t − lag for each query position t (0 for t &lt; lag)</param>
/// <param name="FarByPosition">total probability on keys at least L back for each query position t</param>
public sealed record LagHeadAttention(int Layer, int Head, double AtLagInside, double AtLagBeyond, double FarBeyond,
    int PeakOffset, double PeakMass, double[] AtLagByPosition, double[] FarByPosition);
