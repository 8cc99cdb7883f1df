using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>Outcome of one word-problem run.</summary>
public sealed record WordProblemResult(string Model, string Group, long Parameters, IReadOnlyList<LengthAccuracy> Accuracy,
    double MsPerStep, IReadOnlyList<TrainPoint> History);
