using PathNotebooks.Cli;
using PathNotebooks.Tests.Notebooks;

namespace PathNotebooks.Tests.Cli;

/// <summary>The parser's messages and help, and the time-based ETA of `reproduce`.</summary>
public class CommandLineTests
{
    static Task<(int Code, string Stdout, string Stderr)> Pathnb(params string[] args) => RepoPaths.PathnbAsync(RepoPaths.Root, args);

    [Theory]
    [InlineData("reproduce", "--only", "--size", "--device", "--out", "--cell-timeout", "--notebooks", "--packages-from", "--verbose")]
    [InlineData("notebook run", "--size", "--device", "--out", "--cell-timeout", "--packages-from")]
    [InlineData("bench", "--device", "--shapes", "--iterations", "--kernels", "--memory", "--out")]
    [InlineData("corpus build", "--packs", "--out")]
    [InlineData("info", "--device")]
    public async Task HelpListsEveryOption(string verb, params string[] options)
    {
        var (code, stdout, _) = await Pathnb([.. verb.Split(' '), "--help"]);
        Assert.Equal(0, code);
        Assert.Contains($"./pathnb {verb}", stdout);
        foreach (var o in options) Assert.Contains(o, stdout);
        Assert.DoesNotContain("--probe", stdout);
    }

    [Theory]
    [InlineData("--device must be one of auto | cpu | cuda", "info", "--device", "gpu")]
    [InlineData("--cell-timeout must be a number of seconds above 0", "reproduce", "--cell-timeout", "soon")]
    [InlineData("unknown benchmark 'nope'", "bench", "nope")]
    [InlineData("unknown command 'frobnicate'", "frobnicate")]
    [InlineData("needs a command: run, check", "notebook")]
    [InlineData("Unrecognized command or argument '--fast'", "reproduce", "--fast")]
    public async Task UsageErrorsAreOneLinePlusAHint(string message, params string[] args)
    {
        var (code, stdout, stderr) = await Pathnb(args);
        Assert.Equal(2, code);
        var lines = stderr.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("pathnb: ", lines[0]);
        Assert.Contains(message, lines[0]);
        Assert.Matches(@"^Try '\./pathnb [a-z ]*--help'\.$", lines[1]);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task AnExpectedRuntimeFailureIsItsMessageWithoutAStackTrace()
    {
        var (code, _, stderr) = await Pathnb("info", "--device", "cuda");
        if (code == 0) return;   // a CUDA machine: nothing fails
        Assert.Equal(1, code);
        Assert.StartsWith("pathnb: CUDA was asked for but is not available", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
    }

    [Fact]
    public void EtaUsesThePreviousRunsCellTimesScaledByThisRunsSpeed()
    {
        var previous = new RunHistory(new Dictionary<int, double> { [1] = 10, [2] = 100, [3] = 10 }, 125);
        var eta = new EtaEstimator([previous, previous]);
        Assert.Equal(120 + 5 + 125, eta.Remaining(0, 0, 3, 0, 0)!.Value.TotalSeconds, 3);   // 5 s of start-up
        eta.CellFinished(0, 1, 20);                                              // this run is twice as slow
        // Cell 2 has run 50 s of an expected 200: 150 left, then cell 3 (20) and the next notebook (250).
        Assert.Equal(150 + 20 + 250, eta.Remaining(0, 2, 3, 50, 70)!.Value.TotalSeconds, 3);
    }

    [Fact]
    public void EtaWithoutHistoryFallsBackToElapsedTime()
    {
        var eta = new EtaEstimator([null]);
        Assert.Null(eta.Remaining(0, 1, 4, 5, 5));                               // nothing finished yet
        Assert.Equal(3 * 10 - 2, eta.Remaining(0, 2, 4, 2, 12)!.Value.TotalSeconds, 3);   // 10 s per cell so far
    }

    [Fact]
    public void ProgressLinesOfTheChildProtocolParse()
    {
        Assert.Equal(new ProgressLine(3, 12, true, 41.5), ProgressLine.TryParse("@progress 3 12 1 41.5"));
        Assert.Null(ProgressLine.TryParse("some output"));
    }
}
