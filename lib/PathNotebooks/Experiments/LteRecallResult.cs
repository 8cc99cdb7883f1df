namespace PathNotebooks.Experiments;

/// <summary>One laLTE model of notebook 06's buffer sweep: what its scorer keeps and what it recalls.</summary>
/// <param name="Buffer">kept-token slots b per head (sinks included), also the controller's target</param>
/// <param name="Seed">seed index</param>
/// <param name="KeptFraction">tokens with r &gt; 0 among all tokens of MQAR evaluation sequences of length L (mean over LTE layers, heads and sequences)</param>
/// <param name="MqarAtL">MQAR queries answered at L (length-sweep pairs)</param>
/// <param name="MqarAtLongest">MQAR queries answered at the longest evaluation length</param>
/// <param name="CacheBytes">decoding state of the whole model (one sequence, float32)</param>
public sealed record BufferPoint(int Buffer, int Seed, double KeptFraction, double MqarAtL, double MqarAtLongest, long CacheBytes);

/// <summary>Everything notebook 06's experiment measured.</summary>
/// <param name="Recall">the trained models and every evaluation cell (the heuristic and the sweep models included, by name)</param>
/// <param name="Sweep">one point per buffer and seed</param>
public sealed record LteRecallResult(HybridRecallResult Recall, IReadOnlyList<BufferPoint> Sweep);
