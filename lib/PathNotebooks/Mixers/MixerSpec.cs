namespace PathNotebooks.Mixers;

/// <summary>
/// Describes one token mixer: its kind and settings, as plain data (copy with <c>with { … }</c>). Settings are checked
/// when they are set (an error names the field); <see cref="Check"/> adds the checks that depend on the layer's widths.
/// <see cref="Create"/> builds the mixer. New mixers add a spec record beside their module.
/// </summary>
public abstract record MixerSpec
{
    /// <summary>Short label for tables and legends, e.g. "RoPE", "NoPE-window8", "PaTH-FoX".</summary>
    public abstract string Name { get; }

    /// <summary>Throws naming the field when the spec cannot run at these widths (e.g. RoPE needs an even head dimension).</summary>
    public virtual void Check(MixerDimensions dimensions) => dimensions.Validate();

    /// <summary>A new mixer with fresh weights (from torch's generator; seed it first for reproducible weights).</summary>
    public abstract TokenMixer Create(MixerDimensions dimensions);

    public override string ToString() => Name;

    /// <summary>Returns <paramref name="value"/> when <paramref name="valid"/>, else throws naming <paramref name="field"/>.</summary>
    protected static T Require<T>(T value, bool valid, string field, string rule) =>
        valid ? value : throw new ArgumentOutOfRangeException(field, value, $"{field} {rule}.");
}
