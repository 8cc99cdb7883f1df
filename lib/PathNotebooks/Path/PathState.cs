using PathNotebooks.Mixers;
using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>
/// Decoding state of a PaTH / PaTH-FoX layer: the <see cref="PathDecodeCache"/> (every earlier key already moved
/// through all later Householder transforms, the values, the cumulative forget gates) and the last two inputs of the
/// causal convolution that produces w. Memory grows by one key and value per token, like a KV cache.
/// </summary>
public sealed class PathState : MixerState
{
    Tensor? convHistory;   // [B, DModel, 2]: low-rank w inputs of tokens t−2 and t−1 (zeros before the start)

    public PathState(long batch, double? scale = null) : base(batch)
    {
        Cache = new PathDecodeCache { Scale = scale };
    }

    /// <summary>The attention cache of transformed keys and values.</summary>
    public PathDecodeCache Cache { get; }

    /// <summary>The convolution's inputs of the last two tokens <c>[B, DModel, 2]</c>, or null before the first step.</summary>
    public Tensor? ConvHistory => convHistory;

    protected override IEnumerable<Tensor?> Tensors => new[] { convHistory, Cache.Keys, Cache.Values, Cache.Cumulative, Cache.Total };

    protected override void DisposeTensors()
    {
        convHistory = null;
        Cache.Dispose();
    }

    /// <summary>The convolution window <c>[B, DModel, 3]</c> for the current input <paramref name="low"/> <c>[B, DModel]</c>
    /// (tokens t−2, t−1, t), remembering the last two for the next step.</summary>
    internal Tensor ConvWindow(Tensor low)
    {
        var history = convHistory ?? zeros(low.shape[0], low.shape[1], 2, dtype: low.dtype, device: low.device);
        var window = cat(new[] { history, low.unsqueeze(-1) }, -1);
        convHistory = Keep(convHistory, window[.., .., 1..].contiguous());
        return window;
    }
}
