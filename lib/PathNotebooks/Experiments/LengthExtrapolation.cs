using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using PathNotebooks.Positional;
using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>
/// Trains one small model per position encoding (and seed) at one length and evaluates it at longer ones.
/// Accuracy is always the fraction of answerable positions (t ≥ lag) predicted right: "at nL" over every such
/// position of sequences of length nL, "band aL…bL−1" over the positions aL … bL − 1 of the longest sequences only
/// (so the bands beyond L measure extrapolation alone, without the positions inside L).
/// </summary>
public static class LengthExtrapolation
{
    /// <summary>Trains and evaluates the model of <paramref name="encoding"/> for seed index <paramref name="seed"/>.</summary>
    /// <param name="run">the run (device, base seed)</param>
    /// <param name="encoding">the position encoding of every layer</param>
    /// <param name="s">the settings of the run's size</param>
    /// <param name="seed">seed index 0 … Seeds − 1: initial weights from model stream 2s, training batches from batch
    /// stream 2s (the two never share a seed), evaluation sequences from evaluation stream s</param>
    /// <param name="onLog">called at every logged training step</param>
    public static ExtrapolationRun Run(RunContext run, PositionEncoding encoding, LengthExtrapolationSettings s, int seed = 0, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(s);
        if (seed < 0) throw new ArgumentOutOfRangeException(nameof(seed), seed, "seed index must be ≥ 0.");
        var device = run.Device;
        var config = new ModelConfig { VocabSize = s.Task.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads, Mixers = PositionEncodings.Spec(encoding) };
        var model = run.NewModel(config, 2 * seed);
        var trainGen = run.Generator(SeedStream.TrainingBatches, 2 * seed);
        var curve = Trainer.Train(model, _ => s.Task.Sample(s.BatchSize, s.TrainLength, trainGen, device),
            new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 30) }, onLog);

        var evalGen = run.Generator(SeedStream.Evaluation, seed);
        var accuracy = new Dictionary<int, double>();
        var byPosition = new Dictionary<int, double[]>();
        foreach (var m in s.EvalMultiples)
        {
            int length = m * s.TrainLength;
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            Tensor? correct = null; Tensor? counted = null;
            for (int b = 0; b < s.EvalBatches; b++)
            {
                using var batch = s.Task.Sample(s.BatchSize, length, evalGen, device);
                // Only positions t ≥ lag have a defined answer; LagCopyTask.Sample always sets that mask.
                var mask = batch.LossMask ?? throw new InvalidOperationException("LagCopyTask batches must carry a loss mask.");
                var hit = model.forward(batch.Inputs).argmax(-1).eq(batch.Targets).logical_and(mask).to_type(ScalarType.Float64).sum(new long[] { 0 });
                var n = mask.to_type(ScalarType.Float64).sum(new long[] { 0 });
                correct = correct is null ? hit : correct + hit;
                counted = counted is null ? n : counted + n;
            }
            accuracy[length] = (correct!.sum() / counted!.sum()).item<double>();
            byPosition[length] = (correct / counted.clamp_min(1)).cpu().data<double>().ToArray();
        }
        var heads = HeadsOf(model, s, evalGen, device);
        var seconds = curve.Count > 0 ? curve[^1].Seconds : 0;
        return new ExtrapolationRun(encoding, seed, model.ParameterCount, curve, accuracy, byPosition, seconds, heads);
    }

    /// <summary>
    /// Reads every head's attention probabilities (the explicit path, <see cref="CausalLM.CaptureAttention"/>) on
    /// <see cref="LengthExtrapolationSettings.AttentionBatch"/> fresh sequences of the longest evaluation length and
    /// summarises them with <see cref="OffsetAttention"/>: mass on the copy offset t − lag inside and beyond L, mass on
    /// keys at least L back, and the offset each head prefers inside L.
    /// </summary>
    static List<LagHeadAttention> HeadsOf(CausalLM model, LengthExtrapolationSettings s, Generator evalGen, Device device)
    {
        int lag = s.Task.Lag, L = s.TrainLength, longest = s.EvalMultiples.Max() * L;
        var heads = new List<LagHeadAttention>();
        model.CaptureAttention(true);
        try
        {
            using (var scope = NewDisposeScope())
            using (no_grad())
            using (var batch = s.Task.Sample(s.AttentionBatch, longest, evalGen, device))
                model.forward(batch.Inputs);
            for (int l = 0; l < model.Blocks.Count; l++)
            {
                using var scope = NewDisposeScope();
                var p = model.Blocks[l].Mixer.LastAttention ?? throw new InvalidOperationException($"layer {l + 1} kept no attention probabilities.");
                var atLag = OffsetAttention.AtOffset(p, lag);                              // [H, T]
                var far = OffsetAttention.AtLeast(p, L);                                   // [H, T]
                var profile = OffsetAttention.ByDistance(p, 2 * lag, lag, L);              // [H, 2·lag + 1], queries inside L
                for (int h = 0; h < p.shape[1]; h++)
                {
                    var at = atLag[h].data<double>().ToArray();
                    var fa = far[h].data<double>().ToArray();
                    var pr = profile[h].data<double>().ToArray();
                    int peak = Enumerable.Range(1, 2 * lag).MaxBy(d => pr[d]);
                    heads.Add(new LagHeadAttention(l + 1, h + 1, at[lag..L].Average(), at[L..].Average(), fa[L..].Average(),
                        peak, pr[peak], at, fa));
                }
            }
        }
        finally
        {
            model.CaptureAttention(false);
        }
        return heads;
    }

    /// <summary>The accuracies the tables report, in order: at each evaluation length (all answerable positions), then
    /// each band between consecutive evaluation lengths of the longest sequences (beyond L only).</summary>
    /// <param name="r">one trained model</param>
    /// <param name="trainLength">the training length L</param>
    public static IReadOnlyList<(string Measure, double Accuracy)> Measures(ExtrapolationRun r, int trainLength)
    {
        ArgumentNullException.ThrowIfNull(r);
        string Multiple(int m) => m == 1 ? "L" : $"{m}L";
        var multiples = r.AccuracyAtLength.Keys.Order().Select(n => n / trainLength).ToList();
        var result = multiples.Select(m => ($"at {Multiple(m)}", r.AccuracyAtLength[m * trainLength])).ToList();
        var longest = r.AccuracyByPosition[multiples[^1] * trainLength];
        for (int i = 0; i + 1 < multiples.Count; i++)
        {
            int from = multiples[i] * trainLength, to = multiples[i + 1] * trainLength;
            result.Add(($"band {Multiple(multiples[i])}..{Multiple(multiples[i + 1])}-1", longest[from..to].Average()));
        }
        return result;
    }

    /// <summary>
    /// One row per (encoding, seed): accuracy at each evaluation length (all answerable positions), in each band
    /// beyond L of the longest sequences, the final training loss, parameters and training time.
    /// </summary>
    /// <param name="runs">the trained models</param>
    /// <param name="trainLength">the training length L</param>
    public static DataFrame Table(IEnumerable<ExtrapolationRun> runs, int trainLength)
    {
        var list = runs.ToList();
        if (list.Count == 0) throw new ArgumentException("need at least one run.", nameof(runs));
        var names = Measures(list[0], trainLength).Select(m => m.Measure).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("encoding", list.Select(r => r.Encoding.ToString())),
            new PrimitiveDataFrameColumn<int>("seed", list.Select(r => r.Seed)),
        };
        for (int i = 0; i < names.Count; i++)
        {
            int k = i;
            columns.Add(new DoubleDataFrameColumn($"accuracy {names[k]}", list.Select(r => Math.Round(Measures(r, trainLength)[k].Accuracy, 4))));
        }
        columns.Add(new DoubleDataFrameColumn("final train loss", list.Select(r => Math.Round(r.Curve[^1].Loss, 4))));
        columns.Add(new PrimitiveDataFrameColumn<long>("parameters", list.Select(r => r.Parameters)));
        columns.Add(new DoubleDataFrameColumn("train seconds", list.Select(r => Math.Round(r.TrainSeconds, 1))));
        return new DataFrame(columns);
    }

    /// <summary>
    /// One row per (encoding, measure): mean, min and max over the seeds of each accuracy of <see cref="Measures"/>
    /// (the spread reported is the min–max range over seeds).
    /// </summary>
    /// <param name="runs">the trained models</param>
    /// <param name="trainLength">the training length L</param>
    public static DataFrame Summary(IEnumerable<ExtrapolationRun> runs, int trainLength)
    {
        var rows = runs.GroupBy(r => r.Encoding)
            .SelectMany(g => g.SelectMany(r => Measures(r, trainLength).Select((m, i) => (i, m.Measure, m.Accuracy)))
                .GroupBy(x => (x.i, x.Measure)).OrderBy(x => x.Key.i)
                .Select(x => (Encoding: g.Key, x.Key.Measure, Seeds: x.Count(), Mean: x.Average(y => y.Accuracy), Min: x.Min(y => y.Accuracy), Max: x.Max(y => y.Accuracy))))
            .ToList();
        return new DataFrame(
            new StringDataFrameColumn("encoding", rows.Select(x => x.Encoding.ToString())),
            new StringDataFrameColumn("measure", rows.Select(x => x.Measure)),
            new PrimitiveDataFrameColumn<int>("seeds", rows.Select(x => x.Seeds)),
            new DoubleDataFrameColumn("mean", rows.Select(x => Math.Round(x.Mean, 4))),
            new DoubleDataFrameColumn("min", rows.Select(x => Math.Round(x.Min, 4))),
            new DoubleDataFrameColumn("max", rows.Select(x => Math.Round(x.Max, 4))));
    }

    /// <summary>
    /// One row per (encoding, seed, layer, head): attention on the copy offset t − lag for queries inside L and beyond
    /// L, total attention on keys at least L back for queries beyond L, and the head's preferred offset inside L.
    /// </summary>
    /// <param name="runs">the trained models</param>
    public static DataFrame AttentionTable(IEnumerable<ExtrapolationRun> runs)
    {
        var rows = runs.SelectMany(r => r.Heads.Select(h => (r, h))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("encoding", rows.Select(x => x.r.Encoding.ToString())),
            new PrimitiveDataFrameColumn<int>("seed", rows.Select(x => x.r.Seed)),
            new PrimitiveDataFrameColumn<int>("layer", rows.Select(x => x.h.Layer)),
            new PrimitiveDataFrameColumn<int>("head", rows.Select(x => x.h.Head)),
            new StringDataFrameColumn("copy head", rows.Select(x => ReferenceEquals(x.r.CopyHead, x.h) ? "yes" : "")),
            new DoubleDataFrameColumn("at t-lag (t<L)", rows.Select(x => Math.Round(x.h.AtLagInside, 4))),
            new DoubleDataFrameColumn("at t-lag (t>=L)", rows.Select(x => Math.Round(x.h.AtLagBeyond, 4))),
            new DoubleDataFrameColumn("keys >=L back (t>=L)", rows.Select(x => Math.Round(x.h.FarBeyond, 4))),
            new PrimitiveDataFrameColumn<int>("peak offset (t<L)", rows.Select(x => x.h.PeakOffset)),
            new DoubleDataFrameColumn("peak mass (t<L)", rows.Select(x => Math.Round(x.h.PeakMass, 4))));
    }
}
