using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Experiments;
using PathNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.Forgetting;

/// <summary>Settings of the per-position-loss experiment of notebook 04 (FoX, PaTH, PaTH-FoX vs RoPE on text).</summary>
public sealed record FoxExperimentSettings
{
    /// <summary>Training length L (tokens per training window).</summary>
    public int TrainLength { get; init; } = 64;
    /// <summary>Evaluation windows are this many times L long.</summary>
    public int EvalMultiple { get; init; } = 4;
    public int BatchSize { get; init; } = 16;
    public int Steps { get; init; } = 200;
    /// <summary>Number of fixed validation windows of length EvalMultiple·L (+1 for the last target).</summary>
    public int EvalSequences { get; init; } = 32;
    /// <summary>Evaluation windows per forward pass (bounds memory at long lengths).</summary>
    public int EvalBatch { get; init; } = 16;
    public double LearningRate { get; init; } = 3e-3;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    public int PathChunkSize { get; init; } = 64;
    public int Seed { get; init; } = 0;
    /// <summary>The models to train, in this order.</summary>
    public PositionEncoding[] Encodings { get; init; } =
        { PositionEncoding.RoPE, PositionEncoding.FoX, PositionEncoding.PaTH, PositionEncoding.PaTHFoX };

    /// <summary>Evaluation length EvalMultiple · L.</summary>
    public int EvalLength => EvalMultiple * TrainLength;

    /// <summary>Four byte-level models in about a minute on a 2-core CPU.</summary>
    public static FoxExperimentSettings Tiny => new()
    { TrainLength = 64, Steps = 150, BatchSize = 16, DModel = 64, Layers = 2, Heads = 2, EvalSequences = 16, PathChunkSize = 32 };

    /// <summary>The GPU experiment (a few minutes on one H100 for all four models).</summary>
    public static FoxExperimentSettings Full => new()
    {
        TrainLength = 256, Steps = 800, BatchSize = 32, DModel = 256, Layers = 4, Heads = 4, EvalSequences = 64,
        EvalBatch = 16, LearningRate = 2e-3, PathChunkSize = 64,
    };

    /// <summary>Checks the numbers; throws naming the field.</summary>
    public FoxExperimentSettings Validate()
    {
        if (TrainLength < 2) throw new ArgumentOutOfRangeException(nameof(TrainLength), TrainLength, "TrainLength must be ≥ 2.");
        if (EvalMultiple < 1) throw new ArgumentOutOfRangeException(nameof(EvalMultiple), EvalMultiple, "EvalMultiple must be ≥ 1.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be ≥ 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 1.");
        if (EvalSequences < 1) throw new ArgumentOutOfRangeException(nameof(EvalSequences), EvalSequences, "EvalSequences must be ≥ 1.");
        if (EvalBatch < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatch), EvalBatch, "EvalBatch must be ≥ 1.");
        if (Encodings is null || Encodings.Length == 0) throw new ArgumentException("Encodings must name at least one model.", nameof(Encodings));
        return this;
    }
}

/// <summary>One trained model of the experiment and its loss at every position of the evaluation windows.</summary>
/// <param name="Encoding">the model's position encoding</param>
/// <param name="Model">the trained model</param>
/// <param name="Parameters">number of trainable parameters</param>
/// <param name="Curve">training loss, logged every few steps</param>
/// <param name="LossByPosition">mean cross-entropy (nats) of the prediction made after seeing i + 1 tokens, i = 0 … EvalLength − 1</param>
/// <param name="TrainSeconds">wall-clock training time (varies between runs)</param>
public sealed record FoxRun(PositionEncoding Encoding, CausalLM Model, long Parameters, List<TrainPoint> Curve,
    double[] LossByPosition, double TrainSeconds);

/// <summary>
/// Trains small byte-level language models on the shipped corpus at length L and measures their loss at every
/// position up to EvalMultiple·L (the per-token-loss plot of the FoX paper, Fig. 2, at toy scale).
/// </summary>
public static class FoxExperiment
{
    /// <summary>The model config of one run (byte vocabulary, the settings' sizes, the given encoding).</summary>
    public static ModelConfig Config(PositionEncoding encoding, FoxExperimentSettings s) => new ModelConfig
    {
        VocabSize = TextCorpus.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads,
        Encoding = encoding, PathChunkSize = s.PathChunkSize,
    }.Validate();

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
    public static List<FoxRun> Run(TextCorpus corpus, FoxExperimentSettings s, Action<PositionEncoding, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        using var windows = EvaluationWindows(corpus, s, Runtime.TorchRuntime.Device);
        return s.Encodings.Select(e => Train(e, corpus, s, windows, onLog is null ? null : p => onLog(e, p))).ToList();
    }

    /// <summary>Trains one model at length L and evaluates its per-position loss on <paramref name="windows"/> <c>[N, T + 1]</c>.</summary>
    public static FoxRun Train(PositionEncoding encoding, TextCorpus corpus, FoxExperimentSettings s, Tensor windows, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        var device = Runtime.TorchRuntime.Device;
        var model = CausalLM.Seeded(Config(encoding, s), s.Seed);
        var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, s.TrainLength, s.Seed + 1, device);
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
    public static string Name(PositionEncoding encoding) => encoding == PositionEncoding.PaTHFoX ? "PaTH-FoX" : encoding.ToString();

    /// <summary>The FoX layers of a model (empty when it has none), for reading their <see cref="ForgettingAttention.LastLogForget"/>.</summary>
    public static List<ForgettingAttention> ForgetLayers(CausalLM model) =>
        model.Blocks.Select(b => b.Attention).OfType<ForgettingAttention>().ToList();
}
