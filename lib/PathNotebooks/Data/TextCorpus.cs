using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Data;

/// <summary>Which part of the corpus to read.</summary>
public enum CorpusSplit { Train, Validation }

/// <summary>
/// The kit's shipped English corpus (<c>datasets/dotnet-api-docs.txt.gz</c>, see <c>datasets/README.md</c>) as byte
/// tokens, with a fixed train/validation split and a seeded batch sampler.
/// </summary>
/// <remarks>
/// Tokenisation is byte-level: a token is one byte of the UTF-8 text, so <see cref="VocabSize"/> = 256, every string
/// round-trips exactly and no vocabulary file is needed (the text is 99.9 % ASCII, so a byte is nearly always a
/// character). Split: lines (one API member each) with index ≡ <see cref="ValidationEvery"/> − 1 (mod
/// <see cref="ValidationEvery"/>) go to validation, the rest to training; each part is the concatenation of its
/// lines, each ending in '\n'. This spreads validation over all assemblies and never cuts a line in two.
/// </remarks>
public sealed class TextCorpus
{
    /// <summary>File name of the shipped corpus inside <c>datasets/</c>.</summary>
    public const string FileName = "dotnet-api-docs.txt.gz";

    /// <summary>SHA-256 of the uncompressed UTF-8 text of the shipped corpus.</summary>
    public const string ExpectedSha256 = "0ccaf561142bc64720c4edfd5fe4d662059805dd08432cc8bf27187eda88af10";

    /// <summary>Byte tokens: 256 ids.</summary>
    public const int VocabSize = 256;

    /// <summary>Every this-many-th line is a validation line (≈ 5 %).</summary>
    public const int ValidationEvery = 20;

    /// <summary>Environment variable that overrides where the <c>datasets</c> folder is.</summary>
    public const string DatasetsEnvironmentVariable = "PATHNB_DATASETS";

    readonly byte[] train, validation;
    Tensor? trainTensor, validationTensor;

    TextCorpus(string path, string text, byte[] train, byte[] validation, int lines)
    {
        FilePath = path; Text = text; this.train = train; this.validation = validation; Lines = lines;
    }

    /// <summary>The file this corpus was read from.</summary>
    public string FilePath { get; }
    /// <summary>The whole text.</summary>
    public string Text { get; }
    /// <summary>Number of lines (documents).</summary>
    public int Lines { get; }
    /// <summary>Number of byte tokens in a split.</summary>
    public long TokenCount(CorpusSplit split) => Bytes(split).LongLength;

    /// <summary>The byte tokens of a split (do not modify).</summary>
    public byte[] Bytes(CorpusSplit split) => split == CorpusSplit.Train ? train : validation;

    /// <summary>
    /// Loads and verifies the corpus. <paramref name="path"/>: the file (plain UTF-8, or gzip when it ends in
    /// <c>.gz</c>); default: <see cref="FileName"/> in <see cref="FindDatasetsDirectory"/>. The checksum of the text
    /// is checked against <paramref name="expectedSha256"/> (default <see cref="ExpectedSha256"/> for the shipped
    /// file, none for another path; pass "" to skip).
    /// </summary>
    /// <exception cref="FileNotFoundException">the file is missing</exception>
    /// <exception cref="InvalidDataException">the file is not valid gzip/UTF-8 or its checksum differs</exception>
    public static TextCorpus Load(string? path = null, string? expectedSha256 = null)
    {
        bool shipped = path is null;
        path ??= Path.Combine(FindDatasetsDirectory(), FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Corpus file '{path}' is missing. Rebuild it with `pathnb corpus build` (CorpusBuilder.Build) or restore it from git.", path);
        byte[] bytes;
        try
        {
            if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
                using var ms = new MemoryStream();
                gz.CopyTo(ms);
                bytes = ms.ToArray();
            }
            else bytes = File.ReadAllBytes(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Corpus file '{path}' is corrupt (not valid gzip): {e.Message} Rebuild it with `pathnb corpus build`.", e);
        }
        var expected = expectedSha256 ?? (shipped ? ExpectedSha256 : "");
        if (expected.Length > 0)
        {
            var actual = CorpusBuilder.Sha256Hex(bytes);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"Corpus file '{path}' has SHA-256 {actual} for its text, expected {expected}: the file is corrupt or from another build. Rebuild it with `pathnb corpus build` or restore it from git.");
        }
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"Corpus file '{path}' is not valid UTF-8.", e); }
        return FromText(text, path);
    }

    /// <summary>A corpus from text in memory (same split rule as <see cref="Load"/>); for tests and small experiments.</summary>
    public static TextCorpus FromText(string text, string source = "(memory)")
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n');
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        var trainText = new StringBuilder();
        var validText = new StringBuilder();
        for (int i = 0; i < count; i++)
            (i % ValidationEvery == ValidationEvery - 1 ? validText : trainText).Append(lines[i]).Append('\n');
        return new TextCorpus(source, text, Encode(trainText.ToString()), Encode(validText.ToString()), count);
    }

    /// <summary>
    /// The folder holding the kit's data sets: <c>$PATHNB_DATASETS</c> if set, else the first <c>datasets/</c> folder
    /// containing <see cref="FileName"/> found walking up from the current directory, then from
    /// <see cref="AppContext.BaseDirectory"/> (so notebooks, tests and the CLI all find the repository's copy).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">none found</exception>
    public static string FindDatasetsDirectory()
    {
        if (Environment.GetEnvironmentVariable(DatasetsEnvironmentVariable) is { Length: > 0 } env)
        {
            if (!Directory.Exists(env))
                throw new DirectoryNotFoundException($"{DatasetsEnvironmentVariable} is set to '{env}', which is not a folder.");
            return Path.GetFullPath(env);
        }
        var tried = new List<string>();
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "datasets");
                if (File.Exists(Path.Combine(candidate, FileName))) return candidate;
            }
            tried.Add(start);
        }
        throw new DirectoryNotFoundException(
            $"No datasets/{FileName} found above {string.Join(" or ", tried)}. Run from inside the repository or set {DatasetsEnvironmentVariable} to the datasets folder.");
    }

    /// <summary>UTF-8 bytes of <paramref name="text"/> as token ids 0…255.</summary>
    public static byte[] Encode(string text) => new UTF8Encoding(false).GetBytes(text ?? throw new ArgumentNullException(nameof(text)));

    /// <summary>Token ids <c>[T]</c> (int64) of <paramref name="text"/>.</summary>
    public static Tensor EncodeTensor(string text) => tensor(Encode(text).Select(b => (long)b).ToArray(), ScalarType.Int64);

    /// <summary>Text of byte token ids (invalid UTF-8, e.g. a cut multi-byte character, becomes U+FFFD).</summary>
    public static string Decode(IEnumerable<long> tokens) => Encoding.UTF8.GetString(tokens.Select(ToByte).ToArray());

    /// <summary>Text of byte token ids (an array: exact overload, so it does not bind to the implicit Tensor conversion).</summary>
    public static string Decode(long[] tokens) => Decode((IEnumerable<long>)tokens);

    /// <summary>Text of a token tensor <c>[T]</c>.</summary>
    public static string Decode(Tensor tokens)
    {
        Shapes.Rank(tokens, 1, nameof(tokens), "[T]");
        return Decode(tokens.to(ScalarType.Int64).cpu().data<long>().ToArray());
    }

    static byte ToByte(long t) =>
        t is >= 0 and < VocabSize ? (byte)t : throw new ArgumentOutOfRangeException(nameof(t), t, "Byte token ids are 0…255.");

    /// <summary>The split as a uint8 tensor <c>[N]</c> (cached, CPU).</summary>
    public Tensor Tokens(CorpusSplit split)
    {
        ref var cached = ref split == CorpusSplit.Train ? ref trainTensor : ref validationTensor;
        if (cached is null || cached.IsInvalid)
            cached = tensor(Bytes(split), ScalarType.Byte).DetachFromDisposeScope();
        return cached;
    }

    /// <summary>
    /// A random batch of windows: <c>Inputs [B, T]</c> and <c>Targets [B, T]</c> = the next token of each input
    /// (int64). Window starts are drawn uniformly with <paramref name="generator"/> (CPU), so the same seed gives the
    /// same batches.
    /// </summary>
    public Batch SampleBatch(CorpusSplit split, int batchSize, int length, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var data = Tokens(split);
        CheckWindow(batchSize, length, data.shape[0]);
        using var scope = NewDisposeScope();
        var starts = randint(0, data.shape[0] - length, new long[] { batchSize, 1 }, generator: generator);   // [B, 1]
        var index = starts + arange(length + 1).unsqueeze(0);                                                   // [B, T+1]
        var windows = data.index_select(0, index.flatten()).view(batchSize, length + 1).to(ScalarType.Int64);
        if (device != null) windows = windows.to(device);
        var inputs = windows[.., ..length].contiguous().MoveToOuterDisposeScope();
        var targets = windows[.., 1..].contiguous().MoveToOuterDisposeScope();
        return new Batch(inputs, targets);
    }

    /// <summary>A batch source for <see cref="Trainer.Train"/>: step → <see cref="SampleBatch"/> from a generator seeded with <paramref name="seed"/>.</summary>
    public Func<int, Batch> Sampler(CorpusSplit split, int batchSize, int length, long seed, Device? device = null)
    {
        CheckWindow(batchSize, length, TokenCount(split));
        var generator = new Generator((ulong)seed);
        return _ => SampleBatch(split, batchSize, length, generator, device);
    }

    /// <summary>
    /// <paramref name="count"/> fixed, non-overlapping windows of <paramref name="length"/> tokens <c>[count, length]</c>
    /// (int64), evenly spaced over the split: the deterministic evaluation set (feed <c>[:, :-1]</c> as inputs and
    /// <c>[:, 1:]</c> as targets).
    /// </summary>
    public Tensor Sequences(CorpusSplit split, int count, int length, Device? device = null)
    {
        long n = TokenCount(split);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be ≥ 1.");
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be ≥ 1.");
        if ((long)count * length > n)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} windows of {length} tokens do not fit in the {split} split ({n} tokens).");
        using var scope = NewDisposeScope();
        long stride = n / count;
        var starts = arange(count, ScalarType.Int64).mul(stride).unsqueeze(1);                           // [count, 1]
        var index = starts + arange(length).unsqueeze(0);                                                  // [count, length]
        var windows = Tokens(split).index_select(0, index.flatten()).view(count, length).to(ScalarType.Int64);
        if (device != null) windows = windows.to(device);
        return windows.MoveToOuterDisposeScope();
    }

    static void CheckWindow(int batchSize, int length, long available)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be ≥ 1.");
        if (length <= 0 || length + 1 > available)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be in 1…{available - 1} (the split has {available} tokens).");
    }
}
