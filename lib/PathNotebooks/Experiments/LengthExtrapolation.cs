using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>Trains one small model per position encoding at one length and evaluates it at longer ones.</summary>
public static class LengthExtrapolation
{
    public static ExtrapolationRun Run(RunContext run, PositionEncoding encoding, LengthExtrapolationSettings s, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        var device = run.Device;
        var config = new ModelConfig { VocabSize = s.Task.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads, Mixers = PositionEncodings.Spec(encoding) };
        var model = run.NewModel(config);
        var trainGen = run.Generator(SeedStream.TrainingBatches);
        var curve = Trainer.Train(model, _ => s.Task.Sample(s.BatchSize, s.TrainLength, trainGen, device),
            new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 30) }, onLog);

        var evalGen = run.Generator(SeedStream.Evaluation);
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
        var seconds = curve.Count > 0 ? curve[^1].Seconds : 0;
        return new ExtrapolationRun(encoding, model.ParameterCount, curve, accuracy, byPosition, seconds);
    }

    /// <summary>One row per (encoding, evaluation length): accuracy, and whether the length was seen in training.</summary>
    public static DataFrame Table(IEnumerable<ExtrapolationRun> runs, int trainLength)
    {
        var rows = runs.SelectMany(r => r.AccuracyAtLength.Select(kv => (r, kv.Key, kv.Value))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("encoding", rows.Select(x => x.r.Encoding.ToString())),
            new PrimitiveDataFrameColumn<int>("eval length", rows.Select(x => x.Key)),
            new StringDataFrameColumn("vs train", rows.Select(x => $"{x.Key / (double)trainLength:0.#}x")),
            new DoubleDataFrameColumn("accuracy", rows.Select(x => Math.Round(x.Value, 4))),
            new DoubleDataFrameColumn("final train loss", rows.Select(x => Math.Round(x.r.Curve[^1].Loss, 4))),
            new PrimitiveDataFrameColumn<long>("parameters", rows.Select(x => x.r.Parameters)),
            new DoubleDataFrameColumn("train seconds", rows.Select(x => Math.Round(x.r.TrainSeconds, 1))));
    }
}
