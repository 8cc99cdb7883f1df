using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.PaTH;

/// <summary>Shared argument checks of the PaTH kernels (messages name the argument and the expected shape).</summary>
internal static class PathChecks
{
    /// <summary>Checks q, k, v <c>[B, H, T, D]</c>, w like k, β <c>[B, H, T]</c>, logForget null or <c>[B, H, T]</c>.</summary>
    public static void Inputs(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        Shapes.Floating(q, nameof(q));
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], d = q.shape[3];
        Shapes.Exactly(k, nameof(k), "[B, H, T, D]", b, h, t, d);
        Shapes.Floating(k, nameof(k));
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", b, h, t, -1);
        Shapes.Floating(v, nameof(v));
        Shapes.Exactly(w, nameof(w), "[B, H, T, D]", b, h, t, d);
        Shapes.Floating(w, nameof(w));
        Shapes.Exactly(beta, nameof(beta), "[B, H, T]", b, h, t);
        Shapes.Floating(beta, nameof(beta));
        if (logForget is not null)
        {
            Shapes.Exactly(logForget, nameof(logForget), "[B, H, T]", b, h, t);
            Shapes.Floating(logForget, nameof(logForget));
        }
        if (t == 0) throw new ArgumentException("q must have at least one position (T ≥ 1).", nameof(q));
    }

    /// <summary>
    /// The domain of every PaTH op (docs/domains.md): k and v in q's dtype; w, β and log f in q's dtype (or float32 for
    /// half-precision q); unit rows w and β ∈ [0, 2], so that every transform <c>I − βwwᵀ</c> has spectral norm ≤ 1,
    /// which the chunked sweep's fixed stabiliser relies on (outside it the products grow without bound and the sweep
    /// overflows). log f may have any sign: a positive bias sends the chunked sweep to its exact row-maximum pass.
    /// Call after <see cref="Inputs"/>.
    /// </summary>
    public static void Domain(Tensor q, Tensor k, Tensor v, Tensor w, Tensor beta, Tensor? logForget)
    {
        PathNotebooks.Domain.SameDType(k, nameof(k), q, nameof(q));
        PathNotebooks.Domain.SameDType(v, nameof(v), q, nameof(q));
        PathNotebooks.Domain.GateDType(w, nameof(w), q);
        PathNotebooks.Domain.GateDType(beta, nameof(beta), q);
        if (logForget is not null) PathNotebooks.Domain.GateDType(logForget, nameof(logForget), q);
        using var scope = NewDisposeScope();
        var rules = new PathNotebooks.Domain.Rules()
            .InRange(beta, nameof(beta), 0, 2, "a transform I − βwwᵀ has eigenvalue 1 − β along w, which must lie in [−1, 1]")
            .UnitRows(w, nameof(w), "I − βwwᵀ is a reflection-like transform only for unit w");
        if (logForget is not null) rules.InRange(logForget, nameof(logForget), double.MinValue, double.MaxValue, "a log forget gate must be finite");
        rules.Check();
    }
}
