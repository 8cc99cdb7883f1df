using PathNotebooks.Experiments;
using PathNotebooks.Models;

namespace PathNotebooks.Tests.Experiments;

[Collection("torch")]
public class LengthExtrapolationTests
{
    static readonly LengthExtrapolationSettings Micro = LengthExtrapolationSettings.Tiny with
    {
        Task = new LagCopyTask(VocabSize: 8, Lag: 2), TrainLength = 8, Steps = 3, BatchSize = 4, EvalBatches = 1, DModel = 16, Heads = 2, AttentionBatch = 2,
    };

    [Fact]
    public void SeedsGiveSeparateRunsAndTheTablesCarryThem()
    {
        var run = TestRuns.Cpu();
        var runs = new[] { 0, 1 }.Select(s => LengthExtrapolation.Run(run, PositionEncoding.RoPE, Micro, s)).ToList();
        Assert.Equal(new[] { 0, 1 }, runs.Select(r => r.Seed));
        Assert.NotEqual(runs[0].Curve[0].Loss, runs[1].Curve[0].Loss);              // own weights and batches
        Assert.Equal(new[] { 0, 2, 1, 3, 1000, 1001 }.Order(), run.SeedsUsed.Order()); // init 2s, batches 1 + 2s, evaluation 1000 + s

        var names = LengthExtrapolation.Measures(runs[0], Micro.TrainLength).Select(m => m.Measure);
        Assert.Equal(new[] { "at L", "at 2L", "at 4L", "band L..2L-1", "band 2L..4L-1" }, names);
        var band = LengthExtrapolation.Measures(runs[0], Micro.TrainLength)[3].Accuracy;
        Assert.Equal(runs[0].AccuracyByPosition[32][8..16].Average(), band, 12);

        var table = LengthExtrapolation.Table(runs, Micro.TrainLength);
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal("seed", table.Columns[1].Name);
        var summary = LengthExtrapolation.Summary(runs, Micro.TrainLength);
        Assert.Equal(5, summary.Rows.Count);
        double at = (double)summary["mean"][0]!, lo = (double)summary["min"][0]!, hi = (double)summary["max"][0]!;
        Assert.Equal(Math.Round(runs.Average(r => r.AccuracyAtLength[8]), 4), at, 4);
        Assert.True(lo <= at && at <= hi);
        Assert.Equal(2, (int)summary["seeds"][0]!);
    }

    [Fact]
    public void HeadsReportAttentionOnTheCopyOffset()
    {
        var r = LengthExtrapolation.Run(TestRuns.Cpu(), PositionEncoding.ALiBi, Micro);
        Assert.Equal(Micro.Layers * Micro.Heads, r.Heads.Count);
        foreach (var h in r.Heads)
        {
            Assert.InRange(h.AtLagInside, 0, 1);
            Assert.InRange(h.FarBeyond, 0, 1);
            Assert.InRange(h.PeakOffset, 1, 2 * Micro.Task.Lag);
            Assert.Equal(32, h.AtLagByPosition.Length);
            Assert.All(h.FarByPosition[..Micro.TrainLength], x => Assert.Equal(0, x));     // no key is L back before t = L
            Assert.Equal(h.AtLagByPosition[Micro.TrainLength..].Average(), h.AtLagBeyond, 12);
        }
        Assert.Same(r.Heads.MaxBy(h => h.AtLagInside), r.CopyHead);
        var table = LengthExtrapolation.AttentionTable(new[] { r });
        Assert.Equal(r.Heads.Count, table.Rows.Count);
        Assert.Equal(1, table["copy head"].Cast<string>().Count(s => s == "yes"));
    }
}
