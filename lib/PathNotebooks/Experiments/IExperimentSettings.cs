namespace PathNotebooks.Experiments;

/// <summary>An experiment's settings record: one value per size. <see cref="RunContext.Settings{T}"/> picks the run's.</summary>
public interface IExperimentSettings<TSelf> where TSelf : IExperimentSettings<TSelf>
{
    /// <summary>Seconds to a couple of minutes on a 2-core CPU (what CI runs).</summary>
    static abstract TSelf Tiny { get; }

    /// <summary>The GPU experiment.</summary>
    static abstract TSelf Full { get; }
}
