using static TorchSharp.torch;

namespace PathNotebooks.Training;

/// <summary>One training batch: inputs <c>[B, T]</c>, targets <c>[B, T]</c> (int64) and an optional loss mask <c>[B, T]</c> (bool).</summary>
public sealed record Batch(Tensor Inputs, Tensor Targets, Tensor? LossMask = null) : IDisposable
{
    /// <summary>
    /// Next-token batch from full sequences <c>[B, L]</c>: inputs = tokens 0 … L−2, targets = tokens 1 … L−1 (int64),
    /// the loss mask <paramref name="inputMask"/> <c>[B, L−1]</c> (bool, over the input positions), all contiguous on
    /// <paramref name="device"/> (null = CPU).
    /// </summary>
    public static Batch NextToken(Tensor sequences, Tensor? inputMask, Device? device = null)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        if (inputMask is not null) Shapes.Exactly(inputMask, nameof(inputMask), "[B, L − 1]", sequences.shape[0], sequences.shape[1] - 1);
        using var scope = NewDisposeScope();
        device ??= CPU;
        Tensor Moved(Tensor x) => x.to(device).contiguous().MoveToOuterDisposeScope();
        return new Batch(Moved(sequences[.., ..^1].to(ScalarType.Int64)), Moved(sequences[.., 1..].to(ScalarType.Int64)),
            inputMask is null ? null : Moved(inputMask.to(ScalarType.Bool).clone()));     // a copy: the caller keeps (and disposes) its mask
    }

    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); LossMask?.Dispose(); }
}
