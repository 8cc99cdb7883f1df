using PathNotebooks.Data;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Tasks;

/// <summary>The three single-needle tasks (in the style of RULER's S-NIAH): what the haystack is and what the needle holds.</summary>
public enum NeedleKind
{
    /// <summary>S-NIAH-1: a number hidden in a repeated noise passage.</summary>
    S1,
    /// <summary>S-NIAH-2: a number hidden in prose (the shipped corpus).</summary>
    S2,
    /// <summary>S-NIAH-3: a UUID-like hex string hidden in prose.</summary>
    S3,
}

/// <summary>
/// Single needle in a haystack, byte-level, in the style of RULER's S-NIAH-1/2/3 with the sentences around the needle
/// replaced by two marker tokens (a small model learns the retrieval itself, not the English of the instruction):
/// <code>
/// haystack bytes … [NEEDLE] v₁ … v_m … haystack bytes … [QUERY] v₁ … v_m
/// </code>
/// The needle sits at a chosen depth (0 = start of the haystack, 1 = end); after the query marker the model must
/// reproduce the m value bytes. Only those m predictions are scored (the loss mask), and exact match needs all of
/// them (<see cref="RecallScore"/>). Token ids: bytes 0 … 255, <see cref="NeedleMarker"/> 256, <see cref="QueryMarker"/> 257.
/// </summary>
/// <param name="Corpus">the prose for S2 and S3 (training windows from its training split, evaluation from validation);
/// may be null when only S1 is used</param>
/// <param name="NumberDigits">digits of the S1/S2 number</param>
/// <param name="UuidHexDigits">hex digits of the S3 value, written in groups of 4 joined by '-' (8 → "3f2a-91bc")</param>
public sealed record NeedleInAHaystack(TextCorpus? Corpus, int NumberDigits = 5, int UuidHexDigits = 8)
{
    /// <summary>The marker before the needle's value.</summary>
    public const int NeedleMarker = 256;
    /// <summary>The marker after which the value must be reproduced.</summary>
    public const int QueryMarker = 257;
    /// <summary>Bytes plus the two markers.</summary>
    public const int VocabSize = 258;

    /// <summary>S1's haystack: this passage, repeated from a random offset.</summary>
    public const string NoisePassage = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    static readonly byte[] Noise = TextCorpus.Encode(NoisePassage);
    const string Hex = "0123456789abcdef";

    /// <summary>Bytes m of the value of <paramref name="kind"/>.</summary>
    public int ValueLength(NeedleKind kind) => kind == NeedleKind.S3 ? UuidHexDigits + (UuidHexDigits - 1) / 4 : NumberDigits;

    /// <summary>Haystack bytes in a sequence of <paramref name="length"/> tokens: length − 2·(1 + m).</summary>
    public int HaystackLength(NeedleKind kind, int length) => length - 2 * (1 + ValueLength(kind));

    /// <summary>
    /// Full sequences <c>[batch, length]</c> (int64, CPU) and the needle's index in each, deterministic given the
    /// generator's state.
    /// </summary>
    /// <param name="kind">S1, S2 or S3</param>
    /// <param name="batch">sequences</param>
    /// <param name="length">tokens per sequence (haystack, needle, query and answer)</param>
    /// <param name="generator">source of randomness (advanced by the call)</param>
    /// <param name="split">where S2/S3 prose comes from</param>
    /// <param name="depth">where the needle goes, 0 … 1 of the haystack; null = uniformly random per sequence</param>
    public (Tensor Sequences, int[] NeedlePositions) Sequences(NeedleKind kind, int batch, int length, Generator generator,
        CorpusSplit split = CorpusSplit.Train, double? depth = null)
    {
        CheckSettings();
        ArgumentNullException.ThrowIfNull(generator);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        int m = ValueLength(kind), hay = HaystackLength(kind, length);
        if (hay < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be ≥ {2 * (1 + m) + 1} for {kind} (value of {m} bytes).");
        if (depth is < 0 or > 1 || depth is double.NaN) throw new ArgumentOutOfRangeException(nameof(depth), depth, "depth must be in [0, 1] or null.");
        if (kind != NeedleKind.S1 && Corpus is null) throw new InvalidOperationException($"{kind} needs prose: create the task with a corpus.");
        byte[] prose = kind == NeedleKind.S1 ? Noise : Corpus!.Bytes(split);
        if (kind != NeedleKind.S1 && prose.Length <= hay)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"the {split} split has {prose.Length} bytes, too few for a haystack of {hay}.");

        using var scope = NewDisposeScope();
        var starts = (rand(new long[] { batch }, dtype: ScalarType.Float64, generator: generator)
            * (kind == NeedleKind.S1 ? Noise.Length : prose.Length - hay)).floor().to(ScalarType.Int64).data<long>().ToArray();
        var depths = rand(new long[] { batch }, dtype: ScalarType.Float64, generator: generator).data<double>().ToArray();
        int draws = kind == NeedleKind.S3 ? UuidHexDigits : m;                     // random digits per value
        var digits = randint(0, kind == NeedleKind.S3 ? 16 : 10, new long[] { batch, draws }, generator: generator).data<long>().ToArray();
        var tokens = new long[(long)batch * length];
        var positions = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            var value = Value(kind, digits.AsSpan(b * draws, draws));
            int at = (int)Math.Round((depth ?? depths[b]) * hay);           // haystack bytes before the needle
            positions[b] = at;
            long row = (long)b * length, i = row;
            for (int h = 0; h < hay; h++)
            {
                if (h == at) i = WriteNeedle(tokens, i, NeedleMarker, value);
                tokens[i++] = kind == NeedleKind.S1 ? Noise[(starts[b] + h) % Noise.Length] : prose[starts[b] + h];
            }
            if (at == hay) i = WriteNeedle(tokens, i, NeedleMarker, value);
            WriteNeedle(tokens, i, QueryMarker, value);
        }
        return (tensor(tokens, new long[] { batch, length }).MoveToOuterDisposeScope(), positions);
    }

    /// <summary>
    /// Next-token batch from sequences <c>[B, L]</c> of <paramref name="kind"/>: inputs = tokens 0 … L−2, targets =
    /// tokens 1 … L−1, loss mask = the last m input positions (the query marker and the first m − 1 value bytes, whose
    /// targets are the m value bytes).
    /// </summary>
    public Batch ToBatch(NeedleKind kind, Tensor sequences, Device? device = null)
    {
        Shapes.Rank(sequences, 2, nameof(sequences), "[B, L]");
        int m = ValueLength(kind);
        long length = sequences.shape[1];
        if (length < 2 * (1 + m) + 1) throw new ArgumentException($"sequences are too short ({length}) for {kind}.", nameof(sequences));
        using var mask = zeros(sequences.shape[0], length - 1, dtype: ScalarType.Bool);
        mask[.., TensorIndex.Slice(length - 1 - m, null)] = true;
        return Batch.NextToken(sequences, mask, device);
    }

    /// <summary>A training/evaluation batch of <paramref name="kind"/>: <c>[batch, length − 1]</c> inputs, targets and answer mask.</summary>
    public Batch Generate(NeedleKind kind, int batch, int length, Generator generator, CorpusSplit split = CorpusSplit.Train,
        double? depth = null, Device? device = null)
    {
        var (sequences, _) = Sequences(kind, batch, length, generator, split, depth);
        using (sequences) return ToBatch(kind, sequences, device);
    }

    /// <summary>
    /// The value a sequence <c>[L]</c> hides, read back independently of <see cref="Sequences"/> (tests): the m bytes after
    /// the single needle marker, and the m bytes after the query marker. Throws unless each marker occurs exactly once.
    /// </summary>
    public (string Needle, string Answer) ReadBack(NeedleKind kind, Tensor sequence)
    {
        Shapes.Rank(sequence, 1, nameof(sequence), "[L]");
        var data = sequence.to(ScalarType.Int64).cpu().data<long>().ToArray();
        int m = ValueLength(kind);
        int Single(long marker)
        {
            var at = Enumerable.Range(0, data.Length).Where(i => data[i] == marker).ToArray();
            return at.Length == 1 ? at[0] : throw new ArgumentException($"marker {marker} occurs {at.Length} times, expected once.", nameof(sequence));
        }
        string Read(int from) => TextCorpus.Decode(data.Skip(from + 1).Take(m).ToArray());
        return (Read(Single(NeedleMarker)), Read(Single(QueryMarker)));
    }

    byte[] Value(NeedleKind kind, ReadOnlySpan<long> draws)
    {
        if (kind != NeedleKind.S3)
        {
            var number = new byte[draws.Length];
            for (int i = 0; i < draws.Length; i++) number[i] = (byte)('0' + draws[i]);
            if (number[0] == '0') number[0] = (byte)'1';                     // a number has no leading zero
            return number;
        }
        var uuid = new List<byte>();
        for (int i = 0; i < draws.Length; i++)
        {
            if (i > 0 && i % 4 == 0) uuid.Add((byte)'-');
            uuid.Add((byte)Hex[(int)draws[i]]);
        }
        return uuid.ToArray();
    }

    static long WriteNeedle(long[] tokens, long at, int marker, byte[] value)
    {
        tokens[at++] = marker;
        foreach (var b in value) tokens[at++] = b;
        return at;
    }

    void CheckSettings()
    {
        if (NumberDigits < 1) throw new ArgumentOutOfRangeException(nameof(NumberDigits), NumberDigits, "NumberDigits must be ≥ 1.");
        if (UuidHexDigits < 1) throw new ArgumentOutOfRangeException(nameof(UuidHexDigits), UuidHexDigits, "UuidHexDigits must be ≥ 1.");
    }
}
