using static TorchSharp.torch;

namespace PathNotebooks.Training;

/// <summary>One training batch: inputs <c>[B, T]</c>, targets <c>[B, T]</c> (int64) and an optional loss mask <c>[B, T]</c> (bool).</summary>
public sealed record Batch(Tensor Inputs, Tensor Targets, Tensor? LossMask = null) : IDisposable
{
    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); LossMask?.Dispose(); }
}
