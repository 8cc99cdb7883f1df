using static TorchSharp.torch;

namespace PathNotebooks.Runtime;

/// <summary>
/// Lifetime of the tensors a custom <c>autograd.Function</c>'s backward hands to TorchSharp. TorchSharp copies each
/// returned gradient into libtorch's graph <i>after</i> <c>backward</c> returns and never disposes our handle, and it
/// gives backward fresh handles for the upstream gradient and the saved tensors that belong to no dispose scope. Left
/// alone, all of them keep their (GPU) memory until the .NET finaliser runs, which a tensor-heavy loop with little
/// managed allocation never triggers: a benchmark ran the H100 out of memory that way.
/// <para>So a backward calls <see cref="Return"/>: the handles it was given are disposed at once, the gradients it
/// returns are disposed at the start of the next backward on the same thread (by then libtorch holds its own
/// references). At most one backward's gradients per thread wait for the finaliser.</para>
/// </summary>
public static class CustomGradients
{
    [ThreadStatic] static List<Tensor>? returnedEarlier;

    /// <summary>Gradients the previous backward on this thread returned: libtorch has copied them, release ours.</summary>
    public static void ReleasePrevious()
    {
        if (returnedEarlier is null) return;
        foreach (var t in returnedEarlier) t.Dispose();
        returnedEarlier.Clear();
    }

    /// <summary>
    /// Finishes a backward: disposes the handles it received (<paramref name="received"/>: the upstream gradient and the
    /// unpacked saved tensors), detaches <paramref name="gradients"/> from every dispose scope and remembers them for
    /// <see cref="ReleasePrevious"/>. Returns the list to give back to TorchSharp (nulls stay null).
    /// </summary>
    public static List<Tensor> Return(IEnumerable<Tensor?> gradients, IEnumerable<Tensor> received)
    {
        ReleasePrevious();
        var list = new List<Tensor>();
        returnedEarlier ??= new List<Tensor>();
        foreach (var g in gradients)
        {
            if (g is not null)
            {
                g.DetachFromDisposeScope();
                returnedEarlier.Add(g);
            }
            list.Add(g!);
        }
        foreach (var t in received) t.Dispose();
        return list;
    }
}
