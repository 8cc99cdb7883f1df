using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Models;
using static TorchSharp.torch;
using PathNotebooks.Training;
using PathNotebooks.Forgetting;
using PathNotebooks.PaTH;

namespace PathNotebooks.Experiments;

/// <summary>
/// Trains small byte-level language models on the shipped corpus at length L and measures their loss at every
/// position up to EvalMultiple·L (the per-token-loss plot of the FoX paper, Fig. 2, at toy scale).
/// </summary>
public static class FoxExperiment
{
    /// <summary>The model config of one run (byte vocabulary, the settings' sizes, the given encoding).</summary>
    public static ModelConfig Config(PositionEncoding encoding, FoxExperimentSettings s)
    {
        var spec = PositionEncodings.Spec(encoding);
        return new ModelConfig
        {
            VocabSize = TextCorpus.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads,
            Mixers = spec is PathSpec path ? path with { ChunkSize = s.PathChunkSize } : spec,
        }.Validate();
    }

    /// <summary>
    /// The fixed evaluation set: <see cref="FoxExperimentSettings.EvalSequences"/> validation windows of
    /// EvalLength + 1 tokens <c>[N, EvalLength + 1]</c> (int64) on <paramref name="device"/>.
    /// </summary>
    public static Tensor EvaluationWindows(TextCorpus corpus, FoxExperimentSettings s, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        return corpus.Sequences(CorpusSplit.Validation, s.EvalSequences, s.EvalLength + 1, device);
    }

    /// <summary>Trains every encoding of <paramref name="s"/> in turn (same data order and seed for each).</summary>
    public static List<FoxRun> Run(RunContext run, TextCorpus corpus, FoxExperimentSettings s, Action<PositionEncoding, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        using var windows = EvaluationWindows(corpus, s, run.Device);
        return s.Encodings.Select(e => Train(run, e, corpus, s, windows, onLog is null ? null : p => onLog(e, p))).ToList();
    }

    /// <summary>Trains one model at length L and evaluates its per-position loss on <paramref name="windows"/> <c>[N, T + 1]</c>.</summary>
    public static FoxRun Train(RunContext run, PositionEncoding encoding, TextCorpus corpus, FoxExperimentSettings s, Tensor windows, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        var device = run.Device;
        var model = run.NewModel(Config(encoding, s));
        var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, s.TrainLength, run.SeedFor(SeedStream.TrainingBatches), device);
        var curve = Trainer.Train(model, sampler,
            new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 20) }, onLog);
        var losses = LossByPosition(model, windows, s.EvalBatch);
        return new FoxRun(encoding, model, model.ParameterCount, curve, losses, curve.Count > 0 ? curve[^1].Seconds : 0);
    }

    /// <summary>
    /// Mean next-token cross-entropy at each position over a set of windows: entry i is the loss of predicting
    /// token i + 1 from tokens 0 … i (the model has seen i + 1 tokens).
    /// </summary>
    /// <param name="model">the model to evaluate (run without gradients)</param>
    /// <param name="windows">token ids <c>[N, T + 1]</c> (int64): inputs <c>[:, :T]</c>, targets <c>[:, 1:]</c></param>
    /// <param name="batch">windows per forward pass</param>
    /// <returns>T losses (nats)</returns>
    public static double[] LossByPosition(CausalLM model, Tensor windows, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        Shapes.Rank(windows, 2, nameof(windows), "[N, T + 1]");
        if (windows.shape[1] < 2) throw new ArgumentException($"windows must have shape [N, T + 1] with T ≥ 1, got {Shapes.Describe(windows)}.", nameof(windows));
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1.");
        model.eval();
        long n = windows.shape[0], t = windows.shape[1] - 1;
        var sum = new double[t];
        for (long start = 0; start < n; start += batch)
        {
            using var scope = NewDisposeScope();
            var chunk = windows[(int)start..(int)Math.Min(n, start + batch)];
            var loss = Trainer.PerTokenLoss(model, chunk[.., ..(int)t], chunk[.., 1..]);       // [b, T]
            var perPosition = loss.to(ScalarType.Float64).sum(new long[] { 0 }).cpu().data<double>().ToArray();
            for (int i = 0; i < t; i++) sum[i] += perPosition[i];
        }
        return sum.Select(x => x / n).ToArray();
    }

    /// <summary>
    /// Mean of <paramref name="lossByPosition"/> over the positions with (exclusive) <paramref name="fromTokens"/> &lt;
    /// tokens seen ≤ <paramref name="toTokens"/> — e.g. (L/2, L] is the second half of the training length.
    /// </summary>
    public static double BandLoss(double[] lossByPosition, int fromTokens, int toTokens)
    {
        ArgumentNullException.ThrowIfNull(lossByPosition);
        if (fromTokens < 0 || toTokens <= fromTokens || toTokens > lossByPosition.Length)
            throw new ArgumentOutOfRangeException(nameof(toTokens), toTokens, $"need 0 ≤ fromTokens < toTokens ≤ {lossByPosition.Length}, got ({fromTokens}, {toTokens}].");
        double total = 0;
        for (int seen = fromTokens + 1; seen <= toTokens; seen++) total += lossByPosition[seen - 1];
        return total / (toTokens - fromTokens);
    }

    /// <summary>
    /// Per-position loss averaged over consecutive buckets of <paramref name="bucket"/> positions (the last may be
    /// shorter), for plotting: X = mean number of tokens seen in the bucket, Y = mean loss.
    /// </summary>
    public static (double[] X, double[] Y) Bucketed(double[] lossByPosition, int bucket)
    {
        ArgumentNullException.ThrowIfNull(lossByPosition);
        if (bucket < 1) throw new ArgumentOutOfRangeException(nameof(bucket), bucket, "bucket must be ≥ 1.");
        var x = new List<double>(); var y = new List<double>();
        for (int start = 0; start < lossByPosition.Length; start += bucket)
        {
            int end = Math.Min(lossByPosition.Length, start + bucket);
            x.Add((start + 1 + end) / 2.0);
            y.Add(lossByPosition[start..end].Average());
        }
        return (x.ToArray(), y.ToArray());
    }

    /// <summary>The evaluation bands: (L/2, L], then (mL/2, mL] … doubling up to the evaluation length, as (label, from, to).</summary>
    public static List<(string Label, int From, int To)> Bands(int trainLength, int evalLength)
    {
        var bands = new List<(string, int, int)> { ("L", trainLength / 2, trainLength) };
        for (int m = 2; m * trainLength <= evalLength; m *= 2) bands.Add(($"{m}L", m / 2 * trainLength, m * trainLength));
        return bands;
    }

    /// <summary>
    /// One row per model: mean loss (nats/byte) in each band of <see cref="Bands"/> — "loss at L" is the mean over
    /// positions (L/2, L], "at 2L" over (L, 2L], "at 4L" over (2L, 4L] — the change from L to the last band, the final
    /// training loss, parameters and training seconds.
    /// </summary>
    public static DataFrame Table(IReadOnlyList<FoxRun> runs, int trainLength)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("runs must not be empty.", nameof(runs));
        var bands = Bands(trainLength, runs[0].LossByPosition.Length);
        var columns = new List<DataFrameColumn> { new StringDataFrameColumn("model", runs.Select(r => Name(r.Encoding))) };
        foreach (var (label, from, to) in bands)
            columns.Add(new DoubleDataFrameColumn($"loss at {label}", runs.Select(r => Math.Round(BandLoss(r.LossByPosition, from, to), 4))));
        columns.Add(new DoubleDataFrameColumn($"change {bands[0].Label}→{bands[^1].Label}", runs.Select(r =>
            Math.Round(BandLoss(r.LossByPosition, bands[^1].From, bands[^1].To) - BandLoss(r.LossByPosition, bands[0].From, bands[0].To), 4))));
        columns.Add(new DoubleDataFrameColumn("final train loss", runs.Select(r => Math.Round(r.Curve[^1].Loss, 4))));
        columns.Add(new PrimitiveDataFrameColumn<long>("parameters", runs.Select(r => r.Parameters)));
        columns.Add(new DoubleDataFrameColumn("train seconds", runs.Select(r => Math.Round(r.TrainSeconds, 1))));
        return new DataFrame(columns);
    }

    /// <summary>Display name of an encoding ("PaTH-FoX" for PaTHFoX).</summary>
    public static string Name(PositionEncoding encoding) => PositionEncodings.Name(encoding);

    /// <summary>The FoX layers of a model (empty when it has none), for reading their <see cref="ForgettingAttention.LastLogForget"/>.</summary>
    public static List<ForgettingAttention> ForgetLayers(CausalLM model) =>
        model.Blocks.Select(b => b.Mixer).OfType<ForgettingAttention>().ToList();
}
