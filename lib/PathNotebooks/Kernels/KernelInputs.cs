using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Kernels;

/// <summary>
/// The typed inputs of one attention call: q, k, v <c>[B, H, T, D]</c>; PaTH's transforms w <c>[B, H, T, D]</c> (unit
/// rows) and β <c>[B, H, T]</c>; FoX's log forget gate <c>[B, H, T]</c>; LTE's keep scores <c>[B, H, T]</c>. An op reads what it needs; inputs its
/// <see cref="KernelInputSpec"/> does not ask for are null.
/// </summary>
public sealed record KernelInputs(Tensor Q, Tensor K, Tensor V, Tensor? W = null, Tensor? Beta = null, Tensor? LogForget = null,
    Tensor? KeepScores = null) : IDisposable
{
    /// <summary>Every present input with its name (q, k, v, w, beta, logForget, keepScores), in that order.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> Named =>
        new (string, Tensor?)[] { ("q", Q), ("k", K), ("v", V), ("w", W), ("beta", Beta), ("logForget", LogForget), ("keepScores", KeepScores) }
            .Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!)).ToArray();

    /// <summary>Every present input.</summary>
    public Tensor[] All => Named.Select(p => p.Value).ToArray();

    /// <summary>PaTH's w, or a clear error for an op whose spec left it out.</summary>
    public Tensor RequireW => W ?? throw new InvalidOperationException("this kernel needs PaTH's w; its inputs were made without it.");

    /// <summary>PaTH's β, or a clear error for an op whose spec left it out.</summary>
    public Tensor RequireBeta => Beta ?? throw new InvalidOperationException("this kernel needs PaTH's β; its inputs were made without it.");

    /// <summary>FoX's log f, or a clear error for an op whose spec left it out.</summary>
    public Tensor RequireLogForget => LogForget ?? throw new InvalidOperationException("this kernel needs a log forget gate; its inputs were made without it.");

    /// <summary>LTE's keep scores, or a clear error for an op whose spec left them out.</summary>
    public Tensor RequireKeepScores => KeepScores ?? throw new InvalidOperationException("this kernel needs LTE's keep scores; its inputs were made without them.");

    /// <summary>Fresh leaves with the same values that collect their own gradients (so two kernels never share <c>.grad</c>).</summary>
    public KernelInputs CloneAsLeaves()
    {
        static Tensor? Leaf(Tensor? t) => t?.detach().clone().requires_grad_(true);
        return new KernelInputs(Leaf(Q)!, Leaf(K)!, Leaf(V)!, Leaf(W), Leaf(Beta), Leaf(LogForget), Leaf(KeepScores));
    }

    public void Dispose() { foreach (var t in All) t.Dispose(); }
}

/// <summary>
/// Which inputs an op takes beyond q, k, v, and how to draw fresh random ones: q, k, v ~ N(0, 1) in the requested
/// dtype; w = normalised N(0, I) rows, β = 2·sigmoid(N(0, 1)) ∈ (0, 2), log f = logsigmoid(N(4, 1)) ≤ 0 (f ≈ 0.98,
/// mild forgetting), LTE keep scores r = σ(2·N(0, 1)) − ½ ∈ (−½, ½) (about half kept), all in float32 (float64 for
/// float64 q), the dtype the kernels require for them.
/// </summary>
/// <param name="Transforms">PaTH's w and β</param>
/// <param name="LogForget">FoX's log forget gate</param>
/// <param name="KeepScores">LTE's keep scores</param>
public sealed record KernelInputSpec(bool Transforms = false, bool LogForget = false, bool KeepScores = false)
{
    /// <summary>q, k, v only (SDPA).</summary>
    public static KernelInputSpec QueryKeyValue { get; } = new();

    /// <summary>Every input any op takes (what one benchmark run over several ops needs).</summary>
    public static KernelInputSpec Everything { get; } = new(Transforms: true, LogForget: true, KeepScores: true);

    /// <summary>The inputs both specs ask for.</summary>
    public KernelInputSpec Union(KernelInputSpec other) =>
        new(Transforms || other.Transforms, LogForget || other.LogForget, KeepScores || other.KeepScores);

    /// <summary>Random inputs of shape <c>[B, H, T, D]</c> on <paramref name="device"/>, every one a leaf with gradients.</summary>
    /// <param name="b">batch size B</param>
    /// <param name="h">heads H</param>
    /// <param name="t">sequence length T</param>
    /// <param name="d">head dimension D (also of v)</param>
    /// <param name="device">where the tensors live</param>
    /// <param name="dtype">dtype of q, k, v; the extra inputs are float32, or float64 when this is float64</param>
    /// <param name="seed">seeds torch's global generator, so equal seeds give equal inputs</param>
    public KernelInputs Random(long b, long h, long t, long d, Device device, ScalarType dtype, int seed = 0)
    {
        manual_seed(seed);
        using var scope = NewDisposeScope();
        var extra = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor Leaf(Tensor x) => x.detach().requires_grad_(true).MoveToOuterDisposeScope();
        Tensor Normal(params long[] shape) => randn(shape, dtype: extra, device: device);
        var q = Normal(b, h, t, d).to(dtype);
        var k = Normal(b, h, t, d).to(dtype);
        var v = Normal(b, h, t, d).to(dtype);
        Tensor? w = null, beta = null, logForget = null, keep = null;
        if (Transforms)
        {
            w = Leaf(F.normalize(Normal(b, h, t, d), p: 2, dim: -1));
            beta = Leaf(2 * Normal(b, h, t).sigmoid());
        }
        if (LogForget) logForget = Leaf(F.logsigmoid(Normal(b, h, t) + 4));
        if (KeepScores) keep = Leaf((2 * Normal(b, h, t)).sigmoid() - 0.5);
        return new KernelInputs(Leaf(q), Leaf(k), Leaf(v), w, beta, logForget, keep);
    }
}
