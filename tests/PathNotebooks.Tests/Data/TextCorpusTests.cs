using System.IO.Compression;
using System.Text;
using PathNotebooks.Data;
using PathNotebooks.Tests.PositionalVectors;

namespace PathNotebooks.Tests.Data;

[Collection("torch")]
public class TextCorpusTests
{
    static readonly Lazy<TextCorpus> Shipped = new(() => TextCorpus.Load());

    [Fact]
    public void ShippedCorpusIsFoundVerifiedAndSplit()
    {
        var corpus = Shipped.Value;
        Assert.Equal(TextCorpus.ExpectedSha256, CorpusBuilder.Sha256Hex(TextCorpus.Encode(corpus.Text)));
        Assert.InRange(corpus.Text.Length, 2_000_000, 4_000_000);
        Assert.EndsWith(Path.Combine("datasets", TextCorpus.FileName), corpus.FilePath);
        long train = corpus.TokenCount(CorpusSplit.Train), valid = corpus.TokenCount(CorpusSplit.Validation);
        Assert.Equal(TextCorpus.Encode(corpus.Text).LongLength, train + valid);
        Assert.InRange(valid / (double)(train + valid), 0.03, 0.07);
        Assert.Contains("Initializes a new instance of the", corpus.Text);
        Assert.DoesNotContain("<see", corpus.Text);
        Assert.DoesNotContain("cref=", corpus.Text);
    }

    [Fact]
    public void SplitSendsEveryTwentiethLineToValidation()
    {
        var text = string.Concat(Enumerable.Range(0, 40).Select(i => $"line {i}\n"));
        var corpus = TextCorpus.FromText(text);
        Assert.Equal("line 19\nline 39\n", Encoding.UTF8.GetString(corpus.Bytes(CorpusSplit.Validation)));
        Assert.Equal(40, corpus.Lines);
        Assert.StartsWith("line 0\nline 1\n", Encoding.UTF8.GetString(corpus.Bytes(CorpusSplit.Train)));
    }

    [Fact]
    public void TokeniserRoundTrips()
    {
        var text = "Gets the value. Ünïcödé — ≤ 256 → bytes\n\ttab";
        var ids = TextCorpus.EncodeTensor(text);
        Assert.Equal(ScalarType.Int64, ids.dtype);
        Assert.True(ids.max().item<long>() < TextCorpus.VocabSize && ids.min().item<long>() >= 0);
        Assert.Equal(text, TextCorpus.Decode(ids));
        Assert.Equal(text, TextCorpus.Decode(TextCorpus.Encode(text).Select(b => (long)b)));
        Assert.Throws<ArgumentOutOfRangeException>(() => TextCorpus.Decode(new long[] { 65, 300 }));
    }

    [Fact]
    public void BatchesAreDeterministicAndTargetsAreShiftedInputs()
    {
        var corpus = Shipped.Value;
        using var a = corpus.Sampler(CorpusSplit.Train, 4, 32, seed: 11)(0);
        using var b = corpus.Sampler(CorpusSplit.Train, 4, 32, seed: 11)(0);
        using var c = corpus.Sampler(CorpusSplit.Train, 4, 32, seed: 12)(0);
        Assert.Equal(new long[] { 4, 32 }, a.Inputs.shape);
        Assert.Equal(ScalarType.Int64, a.Inputs.dtype);
        Assert.True(a.Inputs.SameAs(b.Inputs) && a.Targets.SameAs(b.Targets));
        Assert.False(a.Inputs.SameAs(c.Inputs));
        Assert.True(a.Inputs[.., 1..].SameAs(a.Targets[.., ..^1]));
        // Each row + its last target is a real window of the training text.
        var train = corpus.Bytes(CorpusSplit.Train);
        for (int r = 0; r < 4; r++)
        {
            var window = a.Inputs[r].data<long>().Select(x => (byte)x).Append((byte)a.Targets[r, -1].item<long>()).ToArray();
            Assert.True(train.AsSpan().IndexOf(window) >= 0, $"row {r} is not a window of the training split");
        }
        // Consecutive draws from one sampler differ (the generator advances).
        var sampler = corpus.Sampler(CorpusSplit.Validation, 2, 16, seed: 3);
        using var first = sampler(0);
        using var second = sampler(1);
        Assert.False(first.Inputs.SameAs(second.Inputs));
        // Evaluation windows are fixed and evenly spaced.
        var s1 = corpus.Sequences(CorpusSplit.Validation, 5, 65);
        var s2 = corpus.Sequences(CorpusSplit.Validation, 5, 65);
        Assert.Equal(new long[] { 5, 65 }, s1.shape);
        Assert.True(s1.SameAs(s2));
    }

    [Fact]
    public void MissingOrCorruptFilesFailClearly()
    {
        var dir = Directory.CreateTempSubdirectory("pathnb-corpus-").FullName;
        try
        {
            Assert.Throws<FileNotFoundException>(() => TextCorpus.Load(Path.Combine(dir, "absent.txt.gz")));
            var notGzip = Path.Combine(dir, "bad.txt.gz");
            File.WriteAllText(notGzip, "this is not gzip");
            Assert.Contains("corrupt", Assert.Throws<InvalidDataException>(() => TextCorpus.Load(notGzip)).Message);
            var tampered = Path.Combine(dir, "tampered.txt.gz");
            using (var gz = new GZipStream(File.Create(tampered), CompressionLevel.Fastest))
                gz.Write(Encoding.UTF8.GetBytes("Returns a value.\nAnother line.\n"));
            var e = Assert.Throws<InvalidDataException>(() => TextCorpus.Load(tampered, TextCorpus.ExpectedSha256));
            Assert.Contains("SHA-256", e.Message);
            Assert.Equal(2, TextCorpus.Load(tampered).Lines);                  // no checksum asked for a custom file
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DatasetsFolderHonoursEnvironmentOverride()
    {
        var dir = Directory.CreateTempSubdirectory("pathnb-ds-").FullName;
        var before = Environment.GetEnvironmentVariable(TextCorpus.DatasetsEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(TextCorpus.DatasetsEnvironmentVariable, dir);
            Assert.Equal(Path.GetFullPath(dir), TextCorpus.FindDatasetsDirectory());
            Environment.SetEnvironmentVariable(TextCorpus.DatasetsEnvironmentVariable, Path.Combine(dir, "nope"));
            Assert.Throws<DirectoryNotFoundException>(() => TextCorpus.FindDatasetsDirectory());
        }
        finally
        {
            Environment.SetEnvironmentVariable(TextCorpus.DatasetsEnvironmentVariable, before);
            Directory.Delete(dir, recursive: true);
        }
        Assert.True(File.Exists(Path.Combine(TextCorpus.FindDatasetsDirectory(), TextCorpus.FileName)));
    }

    [Fact]
    public void BadBatchArgumentsAreNamed()
    {
        var corpus = TextCorpus.FromText("short text\n");
        var g = new Generator(1);
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => corpus.SampleBatch(CorpusSplit.Train, 2, 100, g)).ParamName);
        Assert.Equal("batchSize", Assert.Throws<ArgumentOutOfRangeException>(() => corpus.SampleBatch(CorpusSplit.Train, 0, 4, g)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => corpus.Sequences(CorpusSplit.Train, 5, 4)).ParamName);
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => TextCorpus.Decode(zeros(2, 3, ScalarType.Int64))).ParamName);
    }

    [Fact]
    public void BuilderExtractsProseFromDocumentationXml()
    {
        var root = Directory.CreateTempSubdirectory("pathnb-packs-").FullName;
        try
        {
            var refDir = Path.Combine(root, "Microsoft.NETCore.App.Ref", "10.0.3", "ref", "net10.0");
            Directory.CreateDirectory(refDir);
            File.WriteAllText(Path.Combine(refDir, "System.Demo.xml"), """
                <?xml version="1.0" encoding="utf-8"?>
                <doc><assembly><name>System.Demo</name></assembly><members>
                  <member name="M:System.Demo.Widget.Spin(System.Int32)">
                    <summary>Spins the <see cref="T:System.Demo.Widget" />   a number
                      of times given by <paramref name="count" />; see <see cref="M:System.Demo.Widget.Stop``1(``0)" />.</summary>
                    <param name="count">How many times to spin, or <see langword="null" /> for forever.</param>
                    <returns>The widget after spinning.<code>var w = new Widget();</code></returns>
                    <exception cref="T:System.ArgumentException">Never extracted.</exception>
                  </member>
                  <member name="M:System.Demo.Widget.Stop">
                    <summary>The widget after spinning.</summary>
                    <param name="x">short</param>
                  </member>
                  <member name="M:System.Demo.Widget.#ctor">
                    <summary>Initializes a new <see cref="M:System.Demo.Widget.#ctor" /> with <c>defaults</c>.</summary>
                  </member>
                </members></doc>
                """);
            var output = Path.Combine(root, "out", "corpus.txt");
            var info = CorpusBuilder.Build(root, output, targetBytes: 0);
            var text = File.ReadAllText(output);
            Assert.Equal(
                "Spins the Widget a number of times given by count; see Widget.Stop. How many times to spin, or null for forever. The widget after spinning.\n" +
                "Initializes a new Widget with defaults.\n", text);
            Assert.Equal(2, info.Documents);
            Assert.Equal("10.0.3", info.PackVersion);
            Assert.Equal(1, info.SourceFiles);
            Assert.Equal(CorpusBuilder.Sha256Hex(Encoding.UTF8.GetBytes(text)), info.TextSha256);
            // Gzip output holds the same text and loads with its checksum.
            var gzInfo = CorpusBuilder.Build(root, Path.Combine(root, "out", "corpus.txt.gz"), targetBytes: 0);
            Assert.Equal(info.TextSha256, gzInfo.TextSha256);
            Assert.Equal(text, TextCorpus.Load(gzInfo.OutputPath, gzInfo.TextSha256).Text);
            Assert.Equal("packsRoot", Assert.Throws<ArgumentException>(() => CorpusBuilder.Build(" ", output)).ParamName);
            Assert.Throws<DirectoryNotFoundException>(() => CorpusBuilder.Build(Path.Combine(root, "out"), output));
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
