using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>
/// A position-sensitive synthetic task: random tokens, and at every position t ≥ lag the model must output the
/// token seen <see cref="Lag"/> positions earlier. Content never helps — only "where" does — so the task measures
/// how well a position encoding pins down relative offsets, and whether it still does past the training length.
/// </summary>
public sealed record LagCopyTask(int VocabSize = 16, int Lag = 8)
{
    /// <summary>A batch of <paramref name="batch"/> sequences of <paramref name="length"/> tokens on <paramref name="device"/>.</summary>
    /// <returns>inputs <c>[B, T]</c>, targets <c>[B, T]</c> (input at t − lag), loss mask <c>[B, T]</c> (t ≥ lag)</returns>
    public Batch Sample(int batch, int length, Generator generator, Device device)
    {
        if (length <= Lag) throw new ArgumentOutOfRangeException(nameof(length), length, $"length must exceed the lag ({Lag}).");
        using var scope = NewDisposeScope();
        var x = randint(0, VocabSize, new long[] { batch, length }, generator: generator);
        var targets = x.roll(Lag, 1);
        var mask = (arange(length) >= Lag).unsqueeze(0).expand(batch, length);
        return new Batch(x.to(device).MoveToOuterDisposeScope(), targets.to(device).MoveToOuterDisposeScope(),
            mask.to(device).MoveToOuterDisposeScope());
    }
}

/// <summary>Settings of the length-extrapolation experiment (notebook 01).</summary>
public sealed record LengthExtrapolationSettings
{
    public required LagCopyTask Task { get; init; }
    public int TrainLength { get; init; } = 64;
    public int[] EvalMultiples { get; init; } = { 1, 2, 4 };
    public int BatchSize { get; init; } = 32;
    public int Steps { get; init; } = 300;
    public int EvalBatches { get; init; } = 4;
    public double LearningRate { get; init; } = 3e-3;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    public int Seed { get; init; } = 0;

    /// <summary>Sizes that finish within about a minute on a 2-core CPU (three models).</summary>
    public static LengthExtrapolationSettings Tiny => new() { Task = new LagCopyTask(), TrainLength = 48, Steps = 250, BatchSize = 32 };
    /// <summary>The GPU experiment: longer training sequences, more steps and a wider model.</summary>
    public static LengthExtrapolationSettings Full => new()
    { Task = new LagCopyTask(VocabSize: 32, Lag: 16), TrainLength = 256, Steps = 1500, BatchSize = 64, DModel = 128, Layers = 2, Heads = 4, EvalBatches = 16 };
}

/// <summary>What one model learned: its loss curve and accuracy at each evaluation length.</summary>
public sealed record ExtrapolationRun(PositionEncoding Encoding, long Parameters, List<TrainPoint> Curve,
    IReadOnlyDictionary<int, double> AccuracyAtLength, IReadOnlyDictionary<int, double[]> AccuracyByPosition, double TrainSeconds);

/// <summary>Trains one small model per position encoding at one length and evaluates it at longer ones.</summary>
public static class LengthExtrapolation
{
    public static ExtrapolationRun Run(PositionEncoding encoding, LengthExtrapolationSettings s, Action<TrainPoint>? onLog = null)
    {
        var device = Runtime.TorchRuntime.Device;
        var config = new ModelConfig { VocabSize = s.Task.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads, Encoding = encoding };
        var model = CausalLM.Seeded(config, s.Seed);
        var trainGen = new Generator((ulong)s.Seed + 1);
        var curve = Trainer.Train(model, _ => s.Task.Sample(s.BatchSize, s.TrainLength, trainGen, device),
            new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 30) }, onLog);

        var evalGen = new Generator((ulong)s.Seed + 1000);
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
