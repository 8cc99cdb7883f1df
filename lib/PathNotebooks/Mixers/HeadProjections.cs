using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PathNotebooks.Mixers;

/// <summary>How <see cref="HeadProjections"/> stores the query, key and value weights.</summary>
public enum QkvLayout
{
    /// <summary>One <c>Linear(DModel → 3·DModel)</c>: a single matmul.</summary>
    Fused,
    /// <summary>Three <c>Linear(DModel → DModel)</c>.</summary>
    Separate,
}

/// <summary>
/// The projections every attention-like mixer shares: bias-free q, k, v <c>Linear(DModel → DModel)</c> split into heads,
/// and the output <c>Linear(DModel → DModel)</c> after the heads are merged.
/// </summary>
/// <remarks>
/// Both layouts hold the same weights (fused rows 0…D−1 are q, then k, then v) and give identical forward values; their
/// gradients round differently (one matmul over 3·D against three summed), so each mixer keeps the layout its
/// published results were trained with: fused for softmax attention, separate for PaTH and FoX.
/// </remarks>
public sealed class HeadProjections : nn.Module
{
    readonly Linear? qkv, query, key, value;
    readonly Linear output;
    readonly int heads, headDim;

    public HeadProjections(MixerDimensions dimensions, QkvLayout layout) : base("HeadProjections")
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        int d = dimensions.Validate().DModel;
        heads = dimensions.Heads;
        headDim = dimensions.HeadDim;
        Layout = layout;
        if (layout == QkvLayout.Fused) qkv = nn.Linear(d, 3 * d, hasBias: false);
        else
        {
            query = nn.Linear(d, d, hasBias: false);
            key = nn.Linear(d, d, hasBias: false);
            value = nn.Linear(d, d, hasBias: false);
        }
        output = nn.Linear(d, d, hasBias: false);
        RegisterComponents();
    }

    public QkvLayout Layout { get; }

    /// <summary>Queries, keys and values in heads.</summary>
    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns>three tensors <c>[B, H, T, HeadDim]</c></returns>
    public (Tensor Q, Tensor K, Tensor V) Split(Tensor x)
    {
        long b = x.shape[0], t = x.shape[1];
        if (qkv is not null)
        {
            var parts = qkv.forward(x).view(b, t, 3, heads, headDim).permute(2, 0, 3, 1, 4);    // [3, B, H, T, D]
            return (parts[0], parts[1], parts[2]);
        }
        Tensor Heads(Linear proj) => proj.forward(x).view(b, t, heads, headDim).transpose(1, 2);
        return (Heads(query!), Heads(key!), Heads(value!));
    }

    /// <summary>Heads back to the hidden width: <c>[B, H, T, HeadDim]</c> → <c>[B, T, DModel]</c> (no projection).</summary>
    public Tensor Merge(Tensor y) => y.transpose(1, 2).reshape(y.shape[0], y.shape[2], heads * headDim);

    /// <summary>The output projection of merged heads <c>[B, T, DModel]</c> (or <c>[B, DModel]</c>).</summary>
    public Tensor Output(Tensor merged) => output.forward(merged);
}
