using PathNotebooks.Experiments;
using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using PathNotebooks.IO;

namespace PathNotebooks.Tests.IO;

/// <summary>The kit's CSV writer and the split of timing columns out of results tables.</summary>
public class CsvTableTests
{
    [Fact]
    public void DoublesUseTheShortestRoundTripForm()
    {
        var values = new[] { 2.3616, 0.1 + 0.2, 1e-300, -0.0, 123456789.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity };
        var csv = CsvTable.ToCsv(new DataFrame(new DoubleDataFrameColumn("x", values)));
        var fields = csv.Split('\n')[1..^1];
        Assert.Equal(new[] { "2.3616", "0.30000000000000004", "1E-300", "-0", "123456789", "NaN", "Infinity", "-Infinity" }, fields);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(values[i], double.Parse(fields[i], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void FloatsNullsAndIntegersAreWrittenInvariantly()
    {
        var table = new DataFrame(
            new SingleDataFrameColumn("f", new float[] { 0.1f }),
            new PrimitiveDataFrameColumn<long>("n", new long?[] { null }),
            new PrimitiveDataFrameColumn<int>("i", new[] { -12345 }));
        var previous = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");        // decimal comma must not leak in
            Assert.Equal("f,n,i\n0.1,,-12345\n", CsvTable.ToCsv(table));
        }
        finally { CultureInfo.CurrentCulture = previous; }
    }

    [Fact]
    public void FieldsAreQuotedOnlyWhereRfc4180NeedsIt()
    {
        Assert.Equal("plain text", CsvTable.Quote("plain text"));
        Assert.Equal("\"a,b\"", CsvTable.Quote("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", CsvTable.Quote("say \"hi\""));
        Assert.Equal("\"two\nlines\"", CsvTable.Quote("two\nlines"));
        Assert.Equal("\"cr\rhere\"", CsvTable.Quote("cr\rhere"));

        var table = new DataFrame(new StringDataFrameColumn("name, quoted", new[] { "x,y", "\"q\"", null! }));
        Assert.Equal("\"name, quoted\"\n\"x,y\"\n\"\"\"q\"\"\"\n\n", CsvTable.ToCsv(table));
    }

    [Fact]
    public void FilesAreUtf8WithoutBomAndNoTempFileIsLeft()
    {
        var dir = TempFolder();
        var path = CsvTable.Write(new DataFrame(new StringDataFrameColumn("model", new[] { "PaTH-FoX → ∞" })), Path.Combine(dir, "t.csv"));
        var bytes = File.ReadAllBytes(path);
        Assert.False(bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF, "no BOM");
        Assert.Equal("model\nPaTH-FoX → ∞\n", Encoding.UTF8.GetString(bytes));
        Assert.Equal(new[] { "t.csv" }, Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("train seconds", true)]
    [InlineData("seconds", true)]
    [InlineData("s", true)]
    [InlineData("ms", true)]
    [InlineData("fwd (ms)", true)]
    [InlineData("Wall (s)", true)]
    [InlineData("ms/step", true)]
    [InlineData("shift s", false)]
    [InlineData("steps", false)]
    [InlineData("loss", false)]
    [InlineData("ms/", false)]
    [InlineData("sink (None removed)", false)]
    public void TimingColumnsAreRecognisedByName(string name, bool isTiming) =>
        Assert.Equal(isTiming, TimingColumns.IsTiming(name));

    [Fact]
    public void SaveTableWritesTimingsBesideTheResults()
    {
        var dir = TempFolder();
        var path = RunContext.SaveTable(Results(trainSeconds: 12.3), "runs", dir);
        Assert.Equal(Path.Combine(dir, "runs.csv"), path);
        Assert.Equal("model,eval length,accuracy\nRoPE,64,0.9876\nPaTH,64,1\n", File.ReadAllText(path));
        Assert.Equal("model,eval length,train seconds,ms/step\nRoPE,64,12.3,1.5\nPaTH,64,12.3,1.5\n",
            File.ReadAllText(Path.Combine(dir, "runs.timings.csv")));
    }

    [Fact]
    public void SameResultsWithDifferentTimesGiveIdenticalResultFiles()
    {
        var first = TempFolder();
        var second = TempFolder();
        RunContext.SaveTable(Results(trainSeconds: 10.0), "runs.csv", first);
        RunContext.SaveTable(Results(trainSeconds: 99.9), "runs.csv", second);
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, "runs.csv")), File.ReadAllBytes(Path.Combine(second, "runs.csv")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(first, "runs.timings.csv")), File.ReadAllBytes(Path.Combine(second, "runs.timings.csv")));

        RunContext.SaveTable(Results(trainSeconds: 10.0), "runs", first);                        // writing again: same bytes
        Assert.Equal(File.ReadAllBytes(Path.Combine(second, "runs.csv")), File.ReadAllBytes(Path.Combine(first, "runs.csv")));
    }

    [Fact]
    public void ATableWithoutTimingsRemovesAStaleTimingsFile()
    {
        var dir = TempFolder();
        RunContext.SaveTable(Results(trainSeconds: 1), "runs", dir);
        RunContext.SaveTable(new DataFrame(new DoubleDataFrameColumn("accuracy", new[] { 0.5 })), "runs", dir);
        Assert.Equal(new[] { "runs.csv" }, Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal("accuracy\n0.5\n", File.ReadAllText(Path.Combine(dir, "runs.csv")));
    }

    static DataFrame Results(double trainSeconds) => new(
        new StringDataFrameColumn("model", new[] { "RoPE", "PaTH" }),
        new PrimitiveDataFrameColumn<int>("eval length", new[] { 64, 64 }),
        new DoubleDataFrameColumn("accuracy", new[] { 0.9876, 1.0 }),
        new DoubleDataFrameColumn("train seconds", new[] { trainSeconds, trainSeconds }),
        new DoubleDataFrameColumn("ms/step", new[] { 1.5, 1.5 }));

    static string TempFolder()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pathnb-tests", $"csv-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
