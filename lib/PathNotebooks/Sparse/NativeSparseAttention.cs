using PathNotebooks.Mixers;
using PathNotebooks.Positional;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PathNotebooks.Sparse;

/// <summary>
/// Native sparse attention layer (<see cref="NsaSpec"/>): q from <c>Linear(DModel → DModel)</c>, k and v from
/// <c>Linear(DModel → KvHeads·HeadDim)</c>, RoPE on q and k, three branch gates σ(<c>Linear(DModel → 3·Heads)</c>), the
/// three-branch attention of <see cref="SparseAttention"/>, and the output <c>Linear(DModel → DModel)</c>.
/// </summary>
public sealed class NativeSparseAttention : TokenMixer
{
    readonly Linear query, key, value, gate, output;
    readonly NsaSpec spec;
    readonly int kvHeads;

    public NativeSparseAttention(NsaSpec spec, MixerDimensions dimensions) : base("NativeSparseAttention", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        kvHeads = spec.KvHeadsFor(dimensions);
        int d = dimensions.DModel, kv = kvHeads * dimensions.HeadDim;
        query = nn.Linear(d, d, hasBias: false);
        key = nn.Linear(d, kv, hasBias: false);
        value = nn.Linear(d, kv, hasBias: false);
        gate = nn.Linear(d, 3 * dimensions.Heads);        // bias 0 after init: every gate starts at σ(0) = ½
        output = nn.Linear(d, d, hasBias: false);
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>Queries <c>[B, H, T, D]</c>, keys and values <c>[B, Hkv, T, D]</c> (RoPE applied from <paramref name="offset"/>)
    /// and gates <c>[B, H, T, 3]</c> for hidden states <c>[B, T, DModel]</c>.</summary>
    (Tensor Q, Tensor K, Tensor V, Tensor Gates) Project(Tensor x, long offset)
    {
        long b = x.shape[0], t = x.shape[1];
        int h = Dimensions.Heads, hd = Dimensions.HeadDim;
        var q = query.forward(x).view(b, t, h, hd).transpose(1, 2);
        var k = key.forward(x).view(b, t, kvHeads, hd).transpose(1, 2);
        var v = value.forward(x).view(b, t, kvHeads, hd).transpose(1, 2);
        if (spec.Rope)
        {
            var (cos, sin) = Rope.Angles((int)t, hd, spec.RopeBase, offset, x.device);
            q = Rope.Apply(q, cos, sin);
            k = Rope.Apply(k, cos, sin);
        }
        var gates = gate.forward(x).sigmoid().view(b, t, h, 3).transpose(1, 2);
        return (q, k, v, gates);
    }

    /// <summary>Which blocks the selected branch reads for every query of <paramref name="x"/>.</summary>
    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, KvHeads, T, SelectedBlocks]</c> int64, −1 in unused slots</returns>
    public Tensor SelectedBlocks(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (q, k, _, _) = Project(x, 0);
        return SparseAttention.SelectedBlockIndices(q, k, spec.BlockSize, spec.SelectedBlocks).MoveToOuterDisposeScope();
    }

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        var (q, k, v, gates) = Project(x, 0);
        var y = SparseAttention.Forward(q, k, v, gates, spec.BlockSize, spec.SelectedBlocks, spec.Window);   // [B, H, T, D]
        return output.forward(y.transpose(1, 2).reshape(x.shape[0], x.shape[1], Dimensions.DModel)).MoveToOuterDisposeScope();
    }

    /// <summary>An empty <see cref="NsaState"/>.</summary>
    public override MixerState NewState(long batch) => new NsaState(batch, spec.BlockSize);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="NsaState"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var cache = CheckStep<NsaState>(x, state);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = x.shape[0], g = Dimensions.Heads / kvHeads;
        int t = cache.Position, l = spec.BlockSize, hd = Dimensions.HeadDim;
        double scale = 1 / Math.Sqrt(hd);
        var (q, k, v, gates) = Project(x.unsqueeze(1), t);                        // q [B, H, 1, D], k, v [B, Hkv, 1, D]
        cache.Append(k.squeeze(2), v.squeeze(2));
        var qg = q.view(b, kvHeads, g, hd);                                         // the query heads of each KV group
        var keys = cache.Keys!;
        var values = cache.Values!;

        // Compressed branch over the complete blocks; their summed probabilities rank the blocks.
        int complete = (t + 1) / l, current = t / l;
        var compressed = zeros(b, kvHeads, g, hd, dtype: q.dtype, device: q.device);
        var importance = zeros(b, kvHeads, current + 1, dtype: q.dtype, device: q.device);
        if (complete > 0)
        {
            var p = (qg.matmul(cache.BlockKeys!.transpose(-2, -1)) * scale).softmax(-1);   // [B, Hkv, G, complete]
            compressed = p.matmul(cache.BlockValues!);
            importance[.., .., ..complete] = p.sum(2);
        }
        var c = arange(current + 1, device: q.device);
        var priority = where(c.eq(current), 3, where(c.eq(current - 1), 2, where(c.eq(0), 1, 0)));
        var score = where(priority.gt(0), priority.to(importance.dtype) + g, importance);
        var chosen = score.topk(Math.Min(spec.SelectedBlocks, current + 1), dim: -1).indexes;      // [B, Hkv, n]

        // Selected branch: gather only the chosen blocks' tokens (those up to t).
        var tokens = (chosen.unsqueeze(-1) * l + arange(l, device: q.device)).flatten(2);          // [B, Hkv, n·l]
        var valid = tokens.le(t).unsqueeze(2);                                                      // [B, Hkv, 1, n·l]
        var index = tokens.clamp_max(t).unsqueeze(-1);
        var selectedKeys = keys.gather(2, index.expand(-1, -1, -1, hd));
        var selectedValues = values.gather(2, index.expand(-1, -1, -1, values.shape[3]));
        var selected = (qg.matmul(selectedKeys.transpose(-2, -1)) * scale)
            .masked_fill(valid.logical_not(), double.NegativeInfinity).softmax(-1).matmul(selectedValues);

        // Window branch: the last W tokens.
        int first = Math.Max(0, t + 1 - spec.Window);
        var windowed = (qg.matmul(keys[.., .., first..].transpose(-2, -1)) * scale).softmax(-1).matmul(values[.., .., first..]);

        Tensor Heads(Tensor y) => y.reshape(b, Dimensions.Heads, 1, hd);
        var mixed = SparseAttention.Mix(gates, Heads(compressed), Heads(selected), Heads(windowed));   // [B, H, 1, D]
        return output.forward(mixed.reshape(b, Dimensions.DModel)).MoveToOuterDisposeScope();
    }
}
