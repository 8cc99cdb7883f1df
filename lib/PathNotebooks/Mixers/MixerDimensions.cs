namespace PathNotebooks.Mixers;

/// <summary>The widths a token mixer is built for: hidden width <see cref="DModel"/> split into <see cref="Heads"/>.</summary>
/// <param name="DModel">hidden width of the residual stream</param>
/// <param name="Heads">number of heads; must divide <paramref name="DModel"/></param>
public sealed record MixerDimensions(int DModel, int Heads)
{
    /// <summary>Width of one head, DModel / Heads.</summary>
    public int HeadDim => DModel / Heads;

    /// <summary>Throws naming the field unless the widths fit together.</summary>
    public MixerDimensions Validate()
    {
        if (DModel <= 0 || Heads <= 0 || DModel % Heads != 0)
            throw new ArgumentException($"DModel ({DModel}) must be a positive multiple of Heads ({Heads}).", nameof(DModel));
        return this;
    }
}
