using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>What one model learned: its loss curve and accuracy at each evaluation length.</summary>
public sealed record ExtrapolationRun(PositionEncoding Encoding, long Parameters, List<TrainPoint> Curve,
    IReadOnlyDictionary<int, double> AccuracyAtLength, IReadOnlyDictionary<int, double[]> AccuracyByPosition, double TrainSeconds);
