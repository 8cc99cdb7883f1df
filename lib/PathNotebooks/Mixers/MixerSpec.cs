namespace PathNotebooks.Mixers;

/// <summary>
/// Describes one token mixer: its kind and settings, as plain data (copy with <c>with { … }</c>). Settings are checked
/// when they are set (an error names the field); <see cref="Check"/> adds the checks that depend on the layer's widths.
/// <see cref="Create"/> builds the mixer. New mixers add a spec record beside their module.
/// </summary>
public abstract record MixerSpec
{
    /// <summary>Short label for tables and legends, e.g. "RoPE", "NoPE-window8", "PaTH-FoX".</summary>
    public abstract string Name { get; }

    /// <summary>Throws naming the field when the spec cannot run at these widths (e.g. RoPE needs an even head dimension).</summary>
    public virtual void Check(MixerDimensions dimensions) => dimensions.Validate();

    /// <summary>A new mixer with fresh weights (from torch's generator; seed it first for reproducible weights).</summary>
    public abstract TokenMixer Create(MixerDimensions dimensions);

    /// <summary>
    /// Bytes of the decoding state one layer of this kind holds after <paramref name="context"/> tokens of
    /// <paramref name="batch"/> sequences, for a model in <paramref name="dtype"/>: what <see cref="MixerState.Bytes"/>
    /// reports at that point, from the spec alone (tests pin the two together). A KV cache grows with the context; a
    /// ring buffer or a recurrent state does not.
    /// </summary>
    /// <param name="dimensions">the layer's widths</param>
    /// <param name="batch">sequences B</param>
    /// <param name="context">tokens consumed so far (≥ 1)</param>
    /// <param name="dtype">the model's dtype (states of half-precision models keep some tensors in float32)</param>
    public abstract long StateBytes(MixerDimensions dimensions, long batch, int context, TorchSharp.torch.ScalarType dtype);

    /// <summary>Bytes of one element of <paramref name="dtype"/>.</summary>
    protected static int ElementBytes(TorchSharp.torch.ScalarType dtype) => dtype switch
    {
        TorchSharp.torch.ScalarType.Float64 or TorchSharp.torch.ScalarType.Int64 => 8,
        TorchSharp.torch.ScalarType.Float32 or TorchSharp.torch.ScalarType.Int32 => 4,
        TorchSharp.torch.ScalarType.Float16 or TorchSharp.torch.ScalarType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "dtype must be a floating type (or int32/int64)."),
    };

    /// <summary>Throws unless the arguments of <see cref="StateBytes"/> make sense.</summary>
    protected static void CheckStateBytes(MixerDimensions dimensions, long batch, int context)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        dimensions.Validate();
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        if (context < 1) throw new ArgumentOutOfRangeException(nameof(context), context, "context must be ≥ 1.");
    }

    public override string ToString() => Name;

    /// <summary>Returns <paramref name="value"/> when <paramref name="valid"/>, else throws naming <paramref name="field"/>.</summary>
    protected static T Require<T>(T value, bool valid, string field, string rule) =>
        valid ? value : throw new ArgumentOutOfRangeException(field, value, $"{field} {rule}.");
}
