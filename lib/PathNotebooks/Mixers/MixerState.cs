using static TorchSharp.torch;

namespace PathNotebooks.Mixers;

/// <summary>
/// What a token mixer remembers between decoding steps (a KV cache, a ring buffer, a matrix state…), for one batch.
/// Created empty by <see cref="TokenMixer.NewState"/>, advanced by <see cref="TokenMixer.Step"/>, owned (and disposed)
/// by the caller. Holds detached tensors: decoding is inference.
/// </summary>
public abstract class MixerState : IDisposable
{
    protected MixerState(long batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        Batch = batch;
    }

    /// <summary>Batch size B the state was created for.</summary>
    public long Batch { get; }

    /// <summary>Tokens consumed so far (the position of the next token).</summary>
    public int Position { get; protected set; }

    /// <summary>The tensors the state holds now (for <see cref="Bytes"/>).</summary>
    protected abstract IEnumerable<Tensor?> Tensors { get; }

    /// <summary>Memory the state holds now, in bytes (sum over its tensors of elements × element size).</summary>
    public long Bytes => Tensors.Where(t => t is not null).Sum(t => t!.numel() * t.ElementSize);

    /// <summary>Throws unless <paramref name="x"/> is one token per sequence, <c>[B, DModel]</c>, for this state's batch.</summary>
    public void CheckStep(Tensor x, int dModel)
    {
        Shapes.Exactly(x, nameof(x), "[B, DModel]", Batch, dModel);
        Shapes.Floating(x, nameof(x));
    }

    /// <summary>Moves on by one token; called by the mixer at the end of a step.</summary>
    protected internal void Advance() => Position++;

    /// <summary>Disposes the tensor <paramref name="old"/> and returns <paramref name="replacement"/> detached from
    /// autograd and from the caller's dispose scope, so it outlives the step that made it.</summary>
    protected static Tensor Keep(Tensor? old, Tensor replacement)
    {
        var kept = replacement.detach().DetachFromDisposeScope();
        old?.Dispose();
        return kept;
    }

    public void Dispose()
    {
        foreach (var t in Tensors) t?.Dispose();
        DisposeTensors();
        GC.SuppressFinalize(this);
    }

    /// <summary>Clears the fields after <see cref="Dispose"/> disposed their tensors.</summary>
    protected abstract void DisposeTensors();
}
