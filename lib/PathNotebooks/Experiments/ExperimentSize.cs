namespace PathNotebooks.Experiments;

/// <summary>Experiment size: <c>Tiny</c> runs in seconds on a CPU (CI), <c>Full</c> is the GPU experiment.</summary>
public enum ExperimentSize { Tiny, Full }
