namespace PathNotebooks.Experiments;

/// <summary>One evaluation cell of notebook 05: a model on one task at one length (and pair count or needle depth).</summary>
/// <param name="Task">"MQAR length", "MQAR pairs", "S1", "S2" or "S3"</param>
/// <param name="Model">the model's name</param>
/// <param name="Seed">seed index of the run</param>
/// <param name="Length">tokens per sequence</param>
/// <param name="Pairs">MQAR: key-value pairs per sequence; 0 for the needle tasks</param>
/// <param name="Depth">needle depth in [0, 1]; NaN for MQAR</param>
/// <param name="TokenAccuracy">answer tokens right</param>
/// <param name="ExactMatch">sequences with every answer token right</param>
/// <param name="DecodeBytes">bytes of the model's decoding state (all layers, one sequence, float32) after <paramref name="Length"/> tokens</param>
public sealed record RecallPoint(string Task, string Model, int Seed, int Length, int Pairs, double Depth, double TokenAccuracy,
    double ExactMatch, long DecodeBytes)
{
    /// <summary>The headline score: for MQAR the fraction of queries answered (each answer is one token), for the needle
    /// tasks the fraction of needles reproduced exactly.</summary>
    public double Score => Task.StartsWith("MQAR", StringComparison.Ordinal) ? TokenAccuracy : ExactMatch;
}
