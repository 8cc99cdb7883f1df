using PathNotebooks.Models;
using PathNotebooks.Softmax;

namespace PathNotebooks.PositionalVectors;

/// <summary>
/// Attention-window extension for window-attention NoPE (and attention scaling for full-attention NoPE): every
/// <see cref="SoftmaxAttention"/> layer gets window <c>ceil(r·W)</c> and logits × λ until the scope is disposed,
/// which restores the previous <see cref="SoftmaxAttention.Window"/> and <see cref="SoftmaxAttention.LogitScale"/>.
/// Layers without a window keep none (then only λ acts: the attention-scaling baseline).
/// </summary>
public sealed class AttentionWindowExtension : IDisposable
{
    readonly List<(SoftmaxAttention Layer, int? Window, double LogitScale)> saved = new();
    bool disposed;

    AttentionWindowExtension() { }

    /// <param name="model">a model whose attention layers are all <see cref="SoftmaxAttention"/></param>
    /// <param name="ratio">window multiplier r &gt; 0</param>
    /// <param name="logitScale">logit multiplier λ &gt; 0 (applied on top of the layer's current scale)</param>
    public static AttentionWindowExtension Apply(CausalLM model, double ratio, double logitScale)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(ratio > 0) || double.IsInfinity(ratio)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "ratio must be a positive number.");
        if (!(logitScale > 0) || double.IsInfinity(logitScale)) throw new ArgumentOutOfRangeException(nameof(logitScale), logitScale, "logitScale must be a positive number.");
        var layers = model.Mixers.ToList();
        if (layers.FirstOrDefault(a => a is not SoftmaxAttention) is { } other)
            throw new NotSupportedException($"Window extension needs SoftmaxAttention layers; this model has {other.GetType().Name}.");
        var scope = new AttentionWindowExtension();
        foreach (SoftmaxAttention layer in layers)
        {
            scope.saved.Add((layer, layer.Window, layer.LogitScale));
            int? window = layer.EffectiveWindow;
            layer.Window = window is int w ? (int)Math.Ceiling(ratio * w - 1e-9) : null;
            layer.LogitScale = layer.LogitScale * logitScale;
        }
        return scope;
    }

    /// <summary>Restores every layer's window and logit scale.</summary>
    public void Dispose()
    {
        if (disposed) return;
        foreach (var (layer, window, scale) in saved) { layer.Window = window; layer.LogitScale = scale; }
        disposed = true;
    }
}
