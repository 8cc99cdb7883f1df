using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>
/// A position-sensitive synthetic task: random tokens, and at every position t ≥ lag the model must output the
/// token seen <see cref="Lag"/> positions earlier. Content never helps — only "where" does — so the task measures
/// how well a position encoding pins down relative offsets, and whether it still does past the training length.
/// </summary>
public sealed record LagCopyTask(int VocabSize = 16, int Lag = 8)
{
    /// <summary>A batch of <paramref name="batch"/> sequences of <paramref name="length"/> tokens on <paramref name="device"/>.</summary>
    /// <returns>inputs <c>[B, T]</c>, targets <c>[B, T]</c> (input at t − lag), loss mask <c>[B, T]</c> (t ≥ lag)</returns>
    public Batch Sample(int batch, int length, Generator generator, Device device)
    {
        if (length <= Lag) throw new ArgumentOutOfRangeException(nameof(length), length, $"length must exceed the lag ({Lag}).");
        using var scope = NewDisposeScope();
        var x = randint(0, VocabSize, new long[] { batch, length }, generator: generator);
        var targets = x.roll(Lag, 1);
        var mask = (arange(length) >= Lag).unsqueeze(0).expand(batch, length);
        return new Batch(x.to(device).MoveToOuterDisposeScope(), targets.to(device).MoveToOuterDisposeScope(),
            mask.to(device).MoveToOuterDisposeScope());
    }
}
