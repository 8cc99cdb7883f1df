using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Models;
using static TorchSharp.torch;
using PathNotebooks.Training;
using PathNotebooks.Forgetting;
using PathNotebooks.PaTH;

namespace PathNotebooks.Experiments;

/// <summary>
/// Trains small byte-level language models on the shipped corpus at length L (each model for each seed) and measures
/// their loss at every position up to EvalMultiple·L (the per-token-loss plot of the FoX paper, Fig. 2, at toy scale),
/// how far back each head attends, and how much the context beyond L lowers the loss.
/// </summary>
public static class FoxExperiment
{
    /// <summary>The model config of one run (byte vocabulary, the settings' sizes, the given model).</summary>
    public static ModelConfig Config(FoxVariant variant, FoxExperimentSettings s)
    {
        ArgumentNullException.ThrowIfNull(variant);
        var spec = variant.Spec;
        return new ModelConfig
        {
            VocabSize = TextCorpus.VocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads,
            Mixers = spec is PathSpec path ? path with { ChunkSize = s.PathChunkSize } : spec,
        }.Validate();
    }

    /// <summary>The model config of the plain model of <paramref name="encoding"/>.</summary>
    public static ModelConfig Config(PositionEncoding encoding, FoxExperimentSettings s) => Config(new FoxVariant(encoding), s);

    /// <summary>
    /// The fixed evaluation set: <see cref="FoxExperimentSettings.EvalSequences"/> validation windows of
    /// EvalLength + 1 tokens <c>[N, EvalLength + 1]</c> (int64) on <paramref name="device"/>.
    /// </summary>
    public static Tensor EvaluationWindows(TextCorpus corpus, FoxExperimentSettings s, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        return corpus.Sequences(CorpusSplit.Validation, s.EvalSequences, s.EvalLength + 1, device);
    }

    /// <summary>
    /// Trains every model of <paramref name="s"/> for every seed 0 … Seeds − 1, seed-major (all models of seed 0, then
    /// seed 1, …). Seed s gives every model the same data order (training-window stream index s) and initialisation
    /// index s; the evaluation windows are the same for all.
    /// </summary>
    public static List<FoxRun> Run(RunContext run, TextCorpus corpus, FoxExperimentSettings s, Action<FoxVariant, int, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        using var windows = EvaluationWindows(corpus, s, run.Device);
        var runs = new List<FoxRun>();
        for (int seed = 0; seed < s.Seeds; seed++)
            foreach (var m in s.Models)
            {
                int sd = seed;
                runs.Add(Train(run, m, corpus, s, windows, seed, onLog is null ? null : p => onLog(m, sd, p)));
            }
        return runs;
    }

    /// <summary>Trains one model at length L with seed index <paramref name="seed"/> and evaluates its per-position loss on <paramref name="windows"/> <c>[N, T + 1]</c>.</summary>
    public static FoxRun Train(RunContext run, FoxVariant variant, TextCorpus corpus, FoxExperimentSettings s, Tensor windows, int seed = 0, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(variant);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        if (seed < 0) throw new ArgumentOutOfRangeException(nameof(seed), seed, "seed must be ≥ 0.");
        var device = run.Device;
        var model = run.NewModel(Config(variant, s), seed);
        var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, s.TrainLength, run.SeedFor(SeedStream.TrainingBatches, seed), device);
        var curve = Trainer.Train(model, sampler,
            new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 20) }, onLog);
        var losses = LossByPosition(model, windows, s.EvalBatch);
        return new FoxRun(variant, seed, model, model.ParameterCount, curve, losses, curve.Count > 0 ? curve[^1].Seconds : 0);
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
    /// One row per trained model and seed: mean loss (nats/byte) in each band of <see cref="Bands"/> — per band, not
    /// cumulative: "loss at L" is the mean over positions (L/2, L], "at 2L" over (L, 2L], "at 4L" over (2L, 4L] — the
    /// change from L to the last band, the final training loss, parameters and training seconds.
    /// </summary>
    public static DataFrame Table(IReadOnlyList<FoxRun> runs, int trainLength)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("runs must not be empty.", nameof(runs));
        var bands = Bands(trainLength, runs[0].LossByPosition.Length);
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", runs.Select(r => r.Name)),
            new PrimitiveDataFrameColumn<int>("seed", runs.Select(r => r.Seed)),
        };
        foreach (var (label, from, to) in bands)
            columns.Add(new DoubleDataFrameColumn($"loss at {label}", runs.Select(r => Math.Round(BandLoss(r.LossByPosition, from, to), 4))));
        columns.Add(new DoubleDataFrameColumn($"change {bands[0].Label}→{bands[^1].Label}", runs.Select(r => Math.Round(Change(r.LossByPosition, bands), 4))));
        columns.Add(new DoubleDataFrameColumn("final train loss", runs.Select(r => Math.Round(r.Curve[^1].Loss, 4))));
        columns.Add(new PrimitiveDataFrameColumn<long>("parameters", runs.Select(r => r.Parameters)));
        columns.Add(new DoubleDataFrameColumn("train seconds", runs.Select(r => Math.Round(r.TrainSeconds, 1))));
        return new DataFrame(columns);
    }

    /// <summary>
    /// One row per model (in order of first appearance): the number of seeds, and per band of <see cref="Bands"/> and
    /// for the change L → last band the mean over seeds and the spread as min and max over seeds.
    /// </summary>
    public static DataFrame Summary(IReadOnlyList<FoxRun> runs, int trainLength)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("runs must not be empty.", nameof(runs));
        var bands = Bands(trainLength, runs[0].LossByPosition.Length);
        var groups = runs.GroupBy(r => r.Name).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", groups.Select(g => g.Key)),
            new PrimitiveDataFrameColumn<int>("seeds", groups.Select(g => g.Count())),
        };
        void Add(string label, Func<FoxRun, double> value)
        {
            columns.Add(new DoubleDataFrameColumn($"{label} mean", groups.Select(g => Math.Round(g.Average(value), 4))));
            columns.Add(new DoubleDataFrameColumn($"{label} min", groups.Select(g => Math.Round(g.Min(value), 4))));
            columns.Add(new DoubleDataFrameColumn($"{label} max", groups.Select(g => Math.Round(g.Max(value), 4))));
        }
        foreach (var (label, from, to) in bands) Add($"loss at {label}", r => BandLoss(r.LossByPosition, from, to));
        Add($"change {bands[0].Label}→{bands[^1].Label}", r => Change(r.LossByPosition, bands));
        return new DataFrame(columns);
    }

    /// <summary>Loss in the last band minus loss in the first (band L).</summary>
    static double Change(double[] loss, List<(string Label, int From, int To)> bands) =>
        BandLoss(loss, bands[^1].From, bands[^1].To) - BandLoss(loss, bands[0].From, bands[0].To);

    /// <summary>
    /// Context use beyond L, one row per run and band beyond L, on the first
    /// <see cref="FoxExperimentSettings.CutContextSequences"/> evaluation windows: the band loss with the full context,
    /// with the context cut to the last L tokens (<see cref="ContextUse.CutContextLossByPosition"/>, same positions,
    /// same text), and their difference "cut − full" (positive: the tokens further back than L lower the loss;
    /// negative: they hurt).
    /// </summary>
    /// <param name="runs">the runs to evaluate (each is evaluated once more, with the cut context)</param>
    /// <param name="windows">the evaluation windows the runs' <see cref="FoxRun.LossByPosition"/> came from</param>
    /// <param name="s">the settings (L, <see cref="FoxExperimentSettings.CutContextBatch"/>)</param>
    public static DataFrame ContextUseTable(IReadOnlyList<FoxRun> runs, Tensor windows, FoxExperimentSettings s)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(s);
        var model = new StringDataFrameColumn("model"); var seed = new PrimitiveDataFrameColumn<int>("seed");
        var band = new StringDataFrameColumn("band"); var full = new DoubleDataFrameColumn("full context");
        var cut = new DoubleDataFrameColumn("cut to L"); var gain = new DoubleDataFrameColumn("cut − full");
        using var subset = windows[..Math.Min(s.CutContextSequences, (int)windows.shape[0])];
        foreach (var r in runs)
        {
            var fullLoss = LossByPosition(r.Model, subset, s.EvalBatch);
            var cutLoss = ContextUse.CutContextLossByPosition(r.Model, subset, s.TrainLength, s.CutContextBatch);
            foreach (var (label, from, to) in Bands(s.TrainLength, fullLoss.Length).Skip(1))
            {
                double f = BandLoss(fullLoss, from, to), c = BandLoss(cutLoss, from, to);
                model.Append(r.Name); seed.Append(r.Seed); band.Append(label);
                full.Append(Math.Round(f, 4)); cut.Append(Math.Round(c, 4)); gain.Append(Math.Round(c - f, 4) + 0.0);                // + 0.0: no "-0" in the table
            }
        }
        return new DataFrame(model, seed, band, full, cut, gain);
    }

    /// <summary>
    /// Attended distance per run, layer and head (<see cref="ContextUse.AttendedDistance"/>) on the first
    /// <see cref="FoxExperimentSettings.DistanceSequences"/> evaluation windows: for the queries of band L, (L/2, L], and of
    /// the last band, with the distance uniform attention would give as reference.
    /// </summary>
    public static DataFrame DistanceTable(IReadOnlyList<FoxRun> runs, Tensor windows, FoxExperimentSettings s)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(s);
        var bands = Bands(s.TrainLength, s.EvalLength);
        var (first, last) = (bands[0], bands[^1]);
        using var tokens = windows[..Math.Min(s.DistanceSequences, (int)windows.shape[0]), ..s.EvalLength];
        var model = new StringDataFrameColumn("model"); var seed = new PrimitiveDataFrameColumn<int>("seed");
        var layer = new PrimitiveDataFrameColumn<int>("layer"); var head = new PrimitiveDataFrameColumn<int>("head");
        var atL = new DoubleDataFrameColumn($"distance at {first.Label}"); var atLast = new DoubleDataFrameColumn($"distance at {last.Label}");
        var uniL = new DoubleDataFrameColumn($"uniform at {first.Label}"); var uniLast = new DoubleDataFrameColumn($"uniform at {last.Label}");
        double u0 = ContextUse.UniformDistance(first.From, first.To), u1 = ContextUse.UniformDistance(last.From, last.To);
        foreach (var r in runs)
        {
            // Band (from, to] in tokens seen = query positions from … to − 1.
            var byQuery = ContextUse.AttendedDistanceByQuery(r.Model, tokens);
            var d0 = ContextUse.AttendedDistance(byQuery, first.From, first.To);
            var d1 = ContextUse.AttendedDistance(byQuery, last.From, last.To);
            for (int l = 0; l < d0.Length; l++)
                for (int h = 0; h < d0[l].Length; h++)
                {
                    model.Append(r.Name); seed.Append(r.Seed); layer.Append(l + 1); head.Append(h + 1);
                    atL.Append(Math.Round(d0[l][h], 2)); atLast.Append(Math.Round(d1[l][h], 2));
                    uniL.Append(Math.Round(u0, 2)); uniLast.Append(Math.Round(u1, 2));
                }
        }
        return new DataFrame(model, seed, layer, head, atL, atLast, uniL, uniLast);
    }

    /// <summary>Display name of an encoding ("PaTH-FoX" for PaTHFoX).</summary>
    public static string Name(PositionEncoding encoding) => PositionEncodings.Name(encoding);

    /// <summary>The FoX layers of a model (empty when it has none), for reading their <see cref="ForgettingAttention.LastLogForget"/>.</summary>
    public static List<ForgettingAttention> ForgetLayers(CausalLM model) =>
        model.Blocks.Select(b => b.Mixer).OfType<ForgettingAttention>().ToList();
}
