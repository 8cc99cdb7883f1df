namespace PathNotebooks.Eviction;

/// <summary>Which tokens a fixed-size LTE cache keeps beyond the window (<see cref="LteAttention.Policy"/>).</summary>
public enum EvictionPolicy
{
    /// <summary>The learned scores: a token is a candidate when r &gt; 0, and the b − s highest-scored candidates stay.</summary>
    Learned,
    /// <summary>A heuristic baseline that ignores the scorer (StreamingLLM's rule): every token is a candidate and the most
    /// recent ones stay, so the cache is the sinks plus the last W + b − s tokens.</summary>
    Recency,
}
