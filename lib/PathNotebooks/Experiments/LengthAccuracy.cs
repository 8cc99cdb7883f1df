namespace PathNotebooks.Experiments;

/// <summary>Accuracy of the running product at one evaluation length.</summary>
/// <param name="Length">prefix length L</param>
/// <param name="TokenAccuracy">fraction of positions t &lt; L predicted right</param>
/// <param name="SequenceAccuracy">fraction of sequences with every position t &lt; L right</param>
/// <param name="FinalAccuracy">fraction of sequences whose product at position L−1 is right</param>
public sealed record LengthAccuracy(int Length, double TokenAccuracy, double SequenceAccuracy, double FinalAccuracy);
