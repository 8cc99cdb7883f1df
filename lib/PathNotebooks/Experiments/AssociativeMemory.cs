using PathNotebooks.DeltaNet;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>
/// Notebook 05's first measurements, on a bare matrix memory without any training: write N random unit key-value
/// pairs into S (<c>[Dk, Dv]</c>) one after another with one of the <see cref="MemoryRule"/>s, then read a key back as
/// Sᵀk. Shows what a fixed-size state can hold: how much of an early pair survives later writes, and how many pairs
/// can be read back at all once there are more pairs than key dimensions.
/// </summary>
public static class AssociativeMemory
{
    /// <summary>Random unit keys and unit values <c>[trials, pairs, dim]</c> (float64), deterministic given <paramref name="generator"/>.</summary>
    public static (Tensor Keys, Tensor Values) RandomPairs(int trials, int pairs, int dim, Generator generator)
    {
        if (trials < 1) throw new ArgumentOutOfRangeException(nameof(trials), trials, "trials must be ≥ 1.");
        if (pairs < 1) throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "pairs must be ≥ 1.");
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "dim must be ≥ 1.");
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = NewDisposeScope();
        var keys = nn.functional.normalize(randn(new long[] { trials, pairs, dim }, dtype: ScalarType.Float64, generator: generator), p: 2, dim: -1);
        var values = nn.functional.normalize(randn(new long[] { trials, pairs, dim }, dtype: ScalarType.Float64, generator: generator), p: 2, dim: -1);
        return (keys.MoveToOuterDisposeScope(), values.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The memory after each write: entry t is S after pairs 0 … t, <c>[trials, pairs, Dk, Dv]</c>.
    /// </summary>
    /// <param name="rule">how a pair is written</param>
    /// <param name="keys"><c>[trials, pairs, Dk]</c>, unit rows</param>
    /// <param name="values"><c>[trials, pairs, Dv]</c></param>
    /// <param name="alpha">decay per write of the gated rule, in (0, 1]</param>
    /// <param name="beta">write strength of the delta rules, in (0, 2)</param>
    public static Tensor States(MemoryRule rule, Tensor keys, Tensor values, double alpha = 0.97, double beta = 1.0)
    {
        Shapes.Rank(keys, 3, nameof(keys), "[trials, pairs, Dk]");
        Shapes.Exactly(values, nameof(values), "[trials, pairs, Dv]", keys.shape[0], keys.shape[1], -1);
        if (alpha is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1].");
        if (beta is <= 0 or >= 2) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be in (0, 2).");
        using var scope = NewDisposeScope();
        if (rule == MemoryRule.LinearAttention)
            return (keys.unsqueeze(-1) * values.unsqueeze(-2)).cumsum(1).MoveToOuterDisposeScope();      // Σ_{s≤t} k_s v_sᵀ
        // the kit's gated delta rule with one head: [trials, 1, pairs, ·]
        var k = keys.unsqueeze(1);
        var logDecay = full(new long[] { keys.shape[0], 1, keys.shape[1] }, rule == MemoryRule.GatedDeltaRule ? Math.Log(alpha) : 0.0, dtype: keys.dtype);
        var betas = full(new long[] { keys.shape[0], 1, keys.shape[1] }, beta, dtype: keys.dtype);
        return GatedDeltaRule.States(k, k, values.unsqueeze(1), logDecay, betas).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// How much of pair <paramref name="pair"/> survives: for every t ≥ pair, the cosine between what the memory returns
    /// for its key, S_tᵀ k, and its value v (1 = intact, 0 = gone), averaged over the trials.
    /// </summary>
    /// <param name="states"><see cref="States"/> <c>[trials, pairs, Dk, Dv]</c></param>
    /// <param name="keys"><c>[trials, pairs, Dk]</c></param>
    /// <param name="values"><c>[trials, pairs, Dv]</c></param>
    /// <param name="pair">0-based index of the pair followed</param>
    /// <returns>one value per write t = pair … pairs − 1</returns>
    public static double[] Survival(Tensor states, Tensor keys, Tensor values, int pair = 0)
    {
        Shapes.Rank(states, 4, nameof(states), "[trials, pairs, Dk, Dv]");
        if (pair < 0 || pair >= states.shape[1]) throw new ArgumentOutOfRangeException(nameof(pair), pair, $"pair must be in 0…{states.shape[1] - 1}.");
        using var scope = NewDisposeScope();
        var k = keys[.., pair];                                                                    // [trials, Dk]
        var v = values[.., pair];                                                                  // [trials, Dv]
        var read = states[.., pair..].transpose(-2, -1).matmul(k.unsqueeze(1).unsqueeze(-1)).squeeze(-1);   // [trials, t, Dv]
        var cosine = nn.functional.cosine_similarity(read, v.unsqueeze(1).expand_as(read), dim: -1, eps: 1e-12);
        return cosine.mean(new long[] { 0 }).data<double>().ToArray();
    }

    /// <summary>
    /// Recall after n writes, for n = 1 … pairs: the fraction of the n stored pairs whose read-out S_nᵀ k_i is closer
    /// (by dot product) to its own value than to any other stored value — how many associations the memory can
    /// still tell apart. Averaged over the trials.
    /// </summary>
    /// <returns>one value per n = 1 … pairs</returns>
    public static double[] Recall(Tensor states, Tensor keys, Tensor values)
    {
        Shapes.Rank(states, 4, nameof(states), "[trials, pairs, Dk, Dv]");
        using var scope = NewDisposeScope();
        long n = states.shape[1];
        var reads = keys.unsqueeze(1).matmul(states);                                   // [trials, t, pairs, Dv]: S_tᵀ k_i for every i
        var scores = reads.matmul(values.transpose(-2, -1).unsqueeze(1));               // [trials, t, pairs (i), pairs (j)]
        var stored = ones(n, n, dtype: ScalarType.Bool).tril();                         // pair j stored after write t iff j ≤ t
        var masked = scores.masked_fill(stored.logical_not().unsqueeze(1).unsqueeze(0), double.NegativeInfinity);   // only stored values compete
        var right = masked.argmax(-1).eq(arange(n).view(1, 1, n)).to(ScalarType.Float64);        // [trials, t, i]
        var perWrite = (right * stored.to(ScalarType.Float64).unsqueeze(0)).sum(-1) / arange(1, n + 1, dtype: ScalarType.Float64);
        return perWrite.mean(new long[] { 0 }).data<double>().ToArray();
    }

    /// <summary>
    /// Recall by age after all writes: entry a is the fraction of trials in which the pair written a writes before the
    /// last (a = 0: the newest) is read back correctly from the final memory (closest to its own value among all stored
    /// values). Shows which pairs a full memory keeps: all a little (interference) or the recent ones (overwriting).
    /// </summary>
    /// <returns>one value per age 0 … pairs − 1</returns>
    public static double[] RecallByAge(Tensor states, Tensor keys, Tensor values)
    {
        Shapes.Rank(states, 4, nameof(states), "[trials, pairs, Dk, Dv]");
        using var scope = NewDisposeScope();
        long n = states.shape[1];
        var final = states[.., -1];                                                      // [trials, Dk, Dv]
        var scores = keys.matmul(final).matmul(values.transpose(-2, -1));                // [trials, i, j]
        var right = scores.argmax(-1).eq(arange(n).view(1, n)).to(ScalarType.Float64);  // [trials, i]
        return right.mean(new long[] { 0 }).flip(0).data<double>().ToArray();
    }
}
