using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Tasks;

/// <summary>
/// Multi-query associative recall (MQAR, after Arora et al. 2023, "Zoology"): a sequence first lists N key-value
/// pairs, then filler tokens, then Q of the keys again as queries; after each query key the model must produce that
/// key's value. Layout of one sequence of <c>length</c> tokens:
/// <code>
/// k₁ v₁ k₂ v₂ … k_N v_N | f f f … f | q₁ a₁ q₂ a₂ … q_Q a_Q        (aᵢ = value of key qᵢ)
/// </code>
/// Keys are distinct within a sequence (so every answer is unique); values are drawn independently and may repeat;
/// queries are distinct keys in random order. Only the answers are scored: the loss mask marks the positions whose
/// input is a query key. The filler stretches the distance between the pairs and their queries, so the length can
/// grow while the number of pairs stays fixed (a sliding window shorter than that distance cannot see the pairs), and
/// the number of pairs can grow at a fixed length (a fixed-size recurrent state runs out of room).
/// </summary>
/// <param name="Keys">number of key tokens (≥ the most pairs a sequence will hold)</param>
/// <param name="Values">number of value tokens</param>
/// <param name="Fillers">number of filler tokens</param>
public sealed record Mqar(int Keys = 128, int Values = 128, int Fillers = 4)
{
    /// <summary>Token ids: fillers 0 … F−1, keys F … F+K−1, values F+K … F+K+V−1.</summary>
    public int VocabSize => Fillers + Keys + Values;

    /// <summary>Id of key <paramref name="i"/> (0-based).</summary>
    public int Key(int i) => Fillers + i;

    /// <summary>Id of value <paramref name="i"/> (0-based).</summary>
    public int Value(int i) => Fillers + Keys + i;

    /// <summary>True for a key id.</summary>
    public bool IsKey(long token) => token >= Fillers && token < Fillers + Keys;

    /// <summary>True for a value id.</summary>
    public bool IsValue(long token) => token >= Fillers + Keys && token < VocabSize;

    /// <summary>
    /// Full token sequences <c>[batch, length]</c> (int64, CPU), deterministic given the generator's state.
    /// </summary>
    /// <param name="batch">sequences</param>
    /// <param name="length">tokens per sequence; at least 2·pairs + 2·queries</param>
    /// <param name="pairs">key-value pairs N listed at the start (1 … Keys)</param>
    /// <param name="queries">queries Q at the end (1 … N)</param>
    /// <param name="generator">source of randomness (advanced by the call)</param>
    public Tensor Sequences(int batch, int length, int pairs, int queries, Generator generator)
    {
        Check(batch, length, pairs, queries);
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = NewDisposeScope();
        // keys: the first N of a random permutation of all keys; queries: the first Q of a random permutation of the N
        var keyOrder = rand(new long[] { batch, Keys }, dtype: ScalarType.Float64, generator: generator).argsort(-1).data<long>().ToArray();
        var queryOrder = rand(new long[] { batch, pairs }, dtype: ScalarType.Float64, generator: generator).argsort(-1).data<long>().ToArray();
        var values = randint(0, Values, new long[] { batch, pairs }, generator: generator).data<long>().ToArray();
        int fill = length - 2 * pairs - 2 * queries;
        var fillers = randint(0, Fillers, new long[] { batch, Math.Max(1, fill) }, generator: generator).data<long>().ToArray();
        var tokens = new long[(long)batch * length];
        for (int b = 0; b < batch; b++)
        {
            long row = (long)b * length;
            for (int p = 0; p < pairs; p++)
            {
                tokens[row + 2 * p] = Key((int)keyOrder[b * Keys + p]);
                tokens[row + 2 * p + 1] = Value((int)values[b * pairs + p]);
            }
            for (int f = 0; f < fill; f++) tokens[row + 2 * pairs + f] = fillers[(long)b * Math.Max(1, fill) + f];
            long queryStart = row + 2 * pairs + fill;
            for (int q = 0; q < queries; q++)
            {
                int pair = (int)queryOrder[b * pairs + q];
                tokens[queryStart + 2 * q] = tokens[row + 2 * pair];
                tokens[queryStart + 2 * q + 1] = tokens[row + 2 * pair + 1];
            }
        }
        return tensor(tokens, new long[] { batch, length }).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Next-token batch from sequences <c>[B, L]</c> made by <see cref="Sequences"/> with <paramref name="queries"/>
    /// queries: inputs = tokens 0 … L−2, targets = tokens 1 … L−1, loss mask = the Q query-key positions (whose target
    /// is the answer).
    /// </summary>
    public static Batch ToBatch(Tensor sequences, int queries, Device? device = null)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        long length = sequences.shape[1];
        if (queries < 1 || 2L * queries > length)
            throw new ArgumentOutOfRangeException(nameof(queries), queries, $"queries must be in 1…{length / 2} for sequences of length {length}.");
        using var mask = zeros(sequences.shape[0], length - 1, dtype: ScalarType.Bool);
        for (int q = 0; q < queries; q++) mask[.., length - 2 * queries + 2 * q] = true;   // positions of q₁, q₂, … in the inputs
        return Batch.NextToken(sequences, mask, device);
    }

    /// <summary>A training/evaluation batch: <c>[batch, length − 1]</c> inputs, targets and answer mask.</summary>
    public Batch Generate(int batch, int length, int pairs, int queries, Generator generator, Device? device = null)
    {
        using var sequences = Sequences(batch, length, pairs, queries, generator);
        return ToBatch(sequences, queries, device);
    }

    /// <summary>
    /// The answer every position of <paramref name="sequences"/> <c>[B, L]</c> asks for, found by reading the sequence
    /// independently of <see cref="Sequences"/> (tests): at the input position of a query key, the value listed after
    /// that key's first occurrence; −1 elsewhere. <paramref name="pairs"/> says where the listing ends.
    /// </summary>
    public long[,] Answers(Tensor sequences, int pairs)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        long rows = sequences.shape[0], cols = sequences.shape[1];
        var data = sequences.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var answers = new long[rows, cols];
        for (long b = 0; b < rows; b++)
        {
            var listed = new Dictionary<long, long>();
            for (long t = 0; t < cols; t++)
            {
                answers[b, t] = -1;
                long token = data[b * cols + t];
                if (t < 2 * pairs && t % 2 == 0) listed.TryAdd(token, data[b * cols + t + 1]);
                else if (t >= 2 * pairs && IsKey(token) && listed.TryGetValue(token, out var value)) answers[b, t] = value;
            }
        }
        return answers;
    }

    void Check(int batch, int length, int pairs, int queries)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        if (pairs < 1 || pairs > Keys) throw new ArgumentOutOfRangeException(nameof(pairs), pairs, $"pairs must be in 1…{Keys} (the number of keys).");
        if (queries < 1 || queries > pairs) throw new ArgumentOutOfRangeException(nameof(queries), queries, $"queries must be in 1…{pairs} (the number of pairs).");
        if (length < 2 * pairs + 2 * queries)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be ≥ 2·pairs + 2·queries = {2 * pairs + 2 * queries}.");
        if (Keys < 1 || Values < 1 || Fillers < 1)
            throw new ArgumentException($"Keys, Values and Fillers must be ≥ 1, got {Keys}, {Values}, {Fillers}.", nameof(Keys));
    }
}
