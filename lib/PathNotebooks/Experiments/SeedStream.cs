namespace PathNotebooks.Experiments;

/// <summary>
/// The independent random streams of an experiment, as offsets from the run's base seed
/// (<see cref="RunContext.SeedFor"/>): the one place where experiments' seeds are derived.
/// </summary>
public enum SeedStream
{
    /// <summary>Initial weights of model i: seed + i.</summary>
    Model = 0,
    /// <summary>Training batches of a synthetic task: seed + 1 + i.</summary>
    TrainingBatches = 1,
    /// <summary>Training windows sampled from the text corpus for model i: seed + 100 + i.</summary>
    CorpusWindows = 100,
    /// <summary>Evaluation sequences: seed + 1000 + i.</summary>
    Evaluation = 1000,
}
