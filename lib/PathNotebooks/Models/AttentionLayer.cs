using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Models;

/// <summary>
/// Base of every attention variant in the model family: maps hidden states <c>[B, T, DModel]</c> to
/// <c>[B, T, DModel]</c>, causally. Can keep its last attention probabilities for pictures.
/// </summary>
public abstract class AttentionLayer : nn.Module<Tensor, Tensor>
{
    protected AttentionLayer(string name) : base(name) { }

    /// <summary>When true, the next forward stores its attention probabilities <c>[B, H, T, T]</c> in <see cref="LastAttention"/> (slower path).</summary>
    public bool CaptureAttention { get; set; }

    /// <summary>Attention probabilities of the last forward with <see cref="CaptureAttention"/> on (detached, CPU).</summary>
    public Tensor? LastAttention { get; protected set; }

    protected void Keep(Tensor probabilities)
    {
        LastAttention?.Dispose();
        LastAttention = probabilities.detach().cpu().DetachFromDisposeScope();
    }
}
