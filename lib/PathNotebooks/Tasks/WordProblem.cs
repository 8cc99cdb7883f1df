using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Tasks;

/// <summary>
/// The group word problem (Merrill et al.; "The Illusion of State"): tokens are group elements drawn uniformly;
/// the target at position t is the running product <c>x_0·x_1⋯x_t</c> (an Order-way classification at every
/// position, no mask). We use the running-product formulation, not the yes/no "is the word the identity" one.
/// </summary>
public static class WordProblem
{
    /// <summary>
    /// Inputs <c>[batch, length]</c> (element ids) and targets <c>[batch, length]</c> (running products), int64, no mask.
    /// Deterministic given the generator's state.
    /// </summary>
    /// <param name="group">the group whose elements are the tokens</param>
    /// <param name="batch">number of words</param>
    /// <param name="length">tokens per word</param>
    /// <param name="generator">source of randomness (advanced by the call)</param>
    /// <param name="device">where the tensors go; null = CPU</param>
    /// <param name="alphabet">element ids the words are drawn from (uniformly); null = every element. Token ids stay
    /// element ids, so the vocabulary is always the group order.</param>
    public static Batch Generate(PermutationGroup group, int batch, int length, Generator generator, Device? device = null,
        IReadOnlyList<int>? alphabet = null)
    {
        if (alphabet is { Count: 0 } || alphabet?.Any(a => a < 0 || a >= (group?.Order ?? 0)) == true)
            throw new ArgumentException("alphabet must be a non-empty list of element ids of the group.", nameof(alphabet));
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(generator);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        using var scope = NewDisposeScope();
        var x = randint(0, alphabet?.Count ?? group.Order, new long[] { batch, length }, generator: generator).data<long>().ToArray();
        if (alphabet is not null) for (int i = 0; i < x.Length; i++) x[i] = alphabet[(int)x[i]];
        var y = new long[x.Length];
        for (int b = 0; b < batch; b++)
        {
            int running = group.Identity;
            for (int t = 0; t < length; t++)
            {
                running = group.Multiply(running, (int)x[b * length + t]);
                y[b * length + t] = running;
            }
        }
        device ??= CPU;
        var inputs = tensor(x, new long[] { batch, length }).to(device);
        var targets = tensor(y, new long[] { batch, length }).to(device);
        return new Batch(inputs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }
}
