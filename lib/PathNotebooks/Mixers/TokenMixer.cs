using static TorchSharp.torch;

namespace PathNotebooks.Mixers;

/// <summary>
/// A layer that mixes information across tokens, causally: softmax attention, PaTH, FoX, and later linear-attention
/// and sparse mixers. Two forms that must agree: <see cref="nn.Module{T, TResult}.forward"/> over a whole sequence
/// <c>[B, T, DModel]</c> (training, evaluation) and <see cref="Step"/> over one token <c>[B, DModel]</c> with an explicit
/// <see cref="MixerState"/> (decoding). Built from its <see cref="MixerSpec"/>.
/// </summary>
public abstract class TokenMixer : nn.Module<Tensor, Tensor>
{
    protected TokenMixer(string name, MixerDimensions dimensions) : base(name)
    {
        Dimensions = dimensions.Validate();
    }

    /// <summary>Hidden width and heads the mixer was built for.</summary>
    public MixerDimensions Dimensions { get; }

    /// <summary>The spec the mixer was built from.</summary>
    public abstract MixerSpec Spec { get; }

    /// <summary>An empty decoding state for <paramref name="batch"/> sequences, on the mixer's device.</summary>
    public abstract MixerState NewState(long batch);

    /// <summary>
    /// Consumes the next token of every sequence and returns its output: the row the full forward would give at
    /// position <see cref="MixerState.Position"/>. Updates <paramref name="state"/> in place.
    /// </summary>
    /// <param name="x">the token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">the state from <see cref="NewState"/>, advanced by every earlier step</param>
    /// <returns><c>[B, DModel]</c></returns>
    public abstract Tensor Step(Tensor x, MixerState state);

    /// <summary>
    /// Sets the initial weights: every <c>Linear</c> weight (and embedding) ~ N(0, std²), every <c>Linear</c> bias 0;
    /// convolutions, norms and the mixer's own parameters keep their constructors' values. Mixers whose parameters
    /// need another rule override this.
    /// </summary>
    public virtual void InitializeWeights(double std) => WeightInit.NormalLinear(this, std);

    /// <summary>
    /// An extra training loss the last forward produced (e.g. LTE's sparsity loss), handed over once: the caller adds
    /// it to the task loss and disposes it. Null for mixers without one (the default) and after it was taken.
    /// </summary>
    public virtual Tensor? TakeAuxiliaryLoss() => null;

    /// <summary>When true, the next forward stores its attention probabilities <c>[B, H, T, T]</c> in
    /// <see cref="LastAttention"/> (slower, explicit path). Mixers without attention probabilities ignore it.</summary>
    public bool CaptureAttention { get; set; }

    /// <summary>Attention probabilities of the last forward with <see cref="CaptureAttention"/> on (detached, CPU).</summary>
    public Tensor? LastAttention { get; protected set; }

    /// <summary>Stores <paramref name="probabilities"/> <c>[B, H, T, T]</c> as <see cref="LastAttention"/>.</summary>
    protected void Keep(Tensor probabilities)
    {
        LastAttention?.Dispose();
        LastAttention = probabilities.detach().cpu().DetachFromDisposeScope();
    }

    /// <summary>The checks at the start of every <see cref="Step"/>: <paramref name="state"/> is the
    /// <typeparamref name="TState"/> this kind of mixer makes, and <paramref name="x"/> is <c>[B, DModel]</c> for its batch.</summary>
    protected TState CheckStep<TState>(Tensor x, MixerState state) where TState : MixerState
    {
        var typed = state as TState ?? throw new ArgumentException(
            $"state must be the {typeof(TState).Name} made by this mixer's NewState, got {state?.GetType().Name ?? "null"}.", nameof(state));
        typed.CheckStep(x, Dimensions.DModel);
        return typed;
    }
}
