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
}
