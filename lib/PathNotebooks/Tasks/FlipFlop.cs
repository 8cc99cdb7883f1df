using PathNotebooks.Models;
using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Tasks;

/// <summary>
/// Flip-flop language modelling (Liu et al. 2023, "Exposing Attention Glitches with Flip-Flop Language Modeling").
/// A sequence is a list of (instruction, bit) pairs over the vocabulary {w, r, i, 0, 1}: <c>w b</c> writes bit b,
/// <c>i b</c> is noise to ignore, <c>r b</c> reads — b must equal the most recently written bit. The first
/// instruction is always <c>w</c>; later ones are <c>i</c> with probability <c>pIgnore</c>, else <c>w</c> or <c>r</c>
/// with equal probability. Training and evaluation look only at the bit after each <c>r</c>.
/// Splits used by the PaTH paper: in-distribution p(i) = 0.8, sparse OOD p(i) = 0.98, dense OOD p(i) = 0.1.
/// </summary>
public static class FlipFlop
{
    /// <summary>Token ids.</summary>
    public const int Write = 0, Read = 1, Ignore = 2, Zero = 3, One = 4;
    /// <summary>Vocabulary size (5).</summary>
    public const int VocabSize = 5;
    /// <summary>Printable names of the token ids.</summary>
    public static IReadOnlyList<string> TokenNames { get; } = new[] { "w", "r", "i", "0", "1" };

    /// <summary>p(ignore) of the paper's three evaluation splits.</summary>
    public const double InDistribution = 0.8, SparseOod = 0.98, DenseOod = 0.1;

    /// <summary>
    /// Full token sequences <c>[batch, 2·pairs]</c> (int64, CPU), deterministic given the generator's state.
    /// </summary>
    public static Tensor Sequences(int batch, int pairs, double pIgnore, Generator generator)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        if (pairs < 2) throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "pairs must be ≥ 2 (a write, then something).");
        if (pIgnore is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(pIgnore), pIgnore, "pIgnore must be in [0, 1).");
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = NewDisposeScope();
        var u = rand(new long[] { batch, pairs }, dtype: ScalarType.Float64, generator: generator).data<double>().ToArray();
        var bits = randint(0, 2, new long[] { batch, pairs }, generator: generator).data<long>().ToArray();
        var tokens = new long[batch * pairs * 2];
        double pWrite = pIgnore + (1 - pIgnore) / 2;
        for (int b = 0; b < batch; b++)
        {
            long last = 0;
            for (int p = 0; p < pairs; p++)
            {
                int at = b * pairs + p;
                int instruction = p == 0 ? Write : u[at] < pIgnore ? Ignore : u[at] < pWrite ? Write : Read;
                long bit = bits[at];
                if (instruction == Write) last = bit;
                if (instruction == Read) bit = last;
                tokens[2 * at] = instruction;
                tokens[2 * at + 1] = bit == 0 ? Zero : One;
            }
        }
        return tensor(tokens, new long[] { batch, 2L * pairs }).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Next-token batch from full sequences <c>[B, L]</c>: inputs = tokens 0 … L−2, targets = tokens 1 … L−1, loss mask =
    /// inputs == r (exactly the positions whose target is the bit after a read).
    /// </summary>
    public static Batch ToBatch(Tensor sequences, Device? device = null)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        using var reads = sequences[.., ..^1].eq(Read);
        return Batch.NextToken(sequences, reads, device);
    }

    /// <summary>A training/evaluation batch: <c>[batch, 2·pairs − 1]</c> inputs, targets and read mask.</summary>
    public static Batch Generate(int batch, int pairs, double pIgnore, Generator generator, Device? device = null)
    {
        using var sequences = Sequences(batch, pairs, pIgnore, generator);
        return ToBatch(sequences, device);
    }

    /// <summary>Same as the generator overload, from a seed.</summary>
    public static Batch Generate(int batch, int pairs, double pIgnore, long seed, Device? device = null)
        => Generate(batch, pairs, pIgnore, new Generator((ulong)seed), device);

    /// <summary>
    /// The answer of every read: for each position of <paramref name="sequences"/> <c>[B, L]</c> holding <c>r</c>, the
    /// last written bit token before it (3 or 4); −1 elsewhere. Computed independently of <see cref="Sequences"/> (tests).
    /// </summary>
    public static long[,] ReadAnswers(Tensor sequences)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        long rows = sequences.shape[0], cols = sequences.shape[1];
        var data = sequences.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var answers = new long[rows, cols];
        for (long b = 0; b < rows; b++)
        {
            long last = -1;
            for (long t = 0; t < cols; t++)
            {
                answers[b, t] = -1;
                long token = data[b * cols + t];
                if (t % 2 == 1 && data[b * cols + t - 1] == Write) last = token;
                if (t % 2 == 0 && token == Read) answers[b, t] = last;
            }
        }
        return answers;
    }

    /// <summary>Fraction of reads whose argmax prediction is wrong (no gradients).</summary>
    public static double ReadError(CausalLM model, Batch batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var predictions = model.forward(batch.Inputs).argmax(-1);
        var mask = batch.LossMask ?? throw new ArgumentException("batch needs a loss mask (the read positions).", nameof(batch));
        var wrong = predictions.ne(batch.Targets).logical_and(mask).sum().to(ScalarType.Float64).item<double>();
        return wrong / Math.Max(1, mask.sum().to(ScalarType.Float64).item<double>());
    }
}
