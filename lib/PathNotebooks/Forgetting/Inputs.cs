using static TorchSharp.torch;

namespace PathNotebooks.Forgetting;

/// <summary>Shared argument checks for the forgetting-attention kernels.</summary>
internal static class Inputs
{
    public static void CheckQueryKey(Tensor q, Tensor k)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, D]");
        Shapes.Floating(q, nameof(q));
        Shapes.Exactly(k, nameof(k), "[B, H, T, D] (same as q)", q.shape);
        Shapes.Floating(k, nameof(k));
        Domain.SameDType(k, nameof(k), q, nameof(q));
        if (q.shape[2] < 1) throw new ArgumentException($"q must have T ≥ 1, got {Shapes.Describe(q)}.", nameof(q));
    }

    public static void CheckValues(Tensor v, Tensor q)
    {
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv] (B, H, T as q)", q.shape[0], q.shape[1], q.shape[2], -1);
        Shapes.Floating(v, nameof(v));
        Domain.SameDType(v, nameof(v), q, nameof(q));
    }
}
