using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.DeltaNet;

/// <summary>
/// Decoding state of a Gated DeltaNet layer: the memory S <c>[B, H, Dk, Dv]</c> and, for each of the q, k, v short
/// convolutions, its last ConvKernel − 1 inputs <c>[B, channels, ConvKernel − 1]</c>. Its size never changes with the
/// context: what replaces a KV cache.
/// </summary>
public sealed class GatedDeltaNetState : MixerState
{
    readonly int convKernel;
    Tensor? memory;
    readonly Tensor?[] histories = new Tensor?[3];   // q, k, v convolution inputs of tokens t−K+1 … t−1 (zeros before the start)

    /// <param name="batch">sequences B</param>
    /// <param name="convKernel">the layer's convolution kernel</param>
    public GatedDeltaNetState(long batch, int convKernel) : base(batch)
    {
        if (convKernel < 1) throw new ArgumentOutOfRangeException(nameof(convKernel), convKernel, "convKernel must be ≥ 1.");
        this.convKernel = convKernel;
    }

    /// <summary>The memory S after the tokens so far <c>[B, H, Dk, Dv]</c>, or null before the first step.</summary>
    public Tensor? Memory => memory;

    /// <summary>The last ConvKernel − 1 inputs of the query, key or value convolution (index 0, 1, 2)
    /// <c>[B, channels, ConvKernel − 1]</c>, or null before the first step or with ConvKernel = 1.</summary>
    public Tensor? History(int index) => histories[index];

    protected override IEnumerable<Tensor?> Tensors => histories.Prepend(memory);

    protected override void DisposeTensors()
    {
        memory = null;
        Array.Clear(histories);
    }

    /// <summary>The convolution window <c>[B, channels, ConvKernel]</c> (tokens t−K+1 … t) of input
    /// <paramref name="index"/> for the current input <c>[B, channels]</c>, remembering all but the oldest.</summary>
    internal Tensor Window(int index, Tensor input)
    {
        if (convKernel == 1) return input.unsqueeze(-1);
        var history = histories[index] ?? zeros(input.shape[0], input.shape[1], convKernel - 1, dtype: input.dtype, device: input.device);
        var window = cat(new[] { history, input.unsqueeze(-1) }, -1);
        histories[index] = Keep(histories[index], window[.., .., 1..].contiguous());
        return window;
    }

    /// <summary>Replaces the memory and advances by one token.</summary>
    internal void Update(Tensor newMemory)
    {
        memory = Keep(memory, newMemory);
        Advance();
    }
}
