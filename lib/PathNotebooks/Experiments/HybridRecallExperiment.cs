using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.Tasks;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>
/// Notebook 05's experiment: what a fixed-size recurrent state forgets, and how a few attention layers bring recall back.
/// Every model of <see cref="HybridRecallSettings.Models"/> is trained on MQAR and, separately, on single-needle
/// retrieval (S1, S2, S3 in turn) at length L, then scored by exact match at L … 4L, at growing numbers of key-value
/// pairs and at several needle depths; each cell also records how many bytes the model's decoding state needs at that
/// length. Same seed → same numbers on CPU; every model of a seed sees the same training batches and evaluation sets.
/// </summary>
public static class HybridRecallExperiment
{
    /// <summary>Task labels of <see cref="HybridRun.Task"/>.</summary>
    public const string MqarTask = "MQAR", NeedleTask = "S-NIAH";

    /// <summary>Labels of <see cref="RecallPoint.Task"/> for the two MQAR sweeps.</summary>
    public const string MqarLengthSweep = "MQAR length", MqarPairSweep = "MQAR pairs";

    /// <summary>The MQAR vocabulary of <paramref name="s"/>.</summary>
    public static Mqar Mqar(HybridRecallSettings s) => new(s.MqarKeys, s.MqarValues);

    /// <summary>The needle task of <paramref name="s"/> on <paramref name="corpus"/>'s prose.</summary>
    public static NeedleInAHaystack Needle(HybridRecallSettings s, TextCorpus corpus) => new(corpus, s.NeedleDigits, s.NeedleHexDigits);

    /// <summary>The model of one run: the settings' widths, <paramref name="mixers"/> per layer, <paramref name="vocabSize"/> tokens.</summary>
    public static ModelConfig Config(LayerPattern mixers, int vocabSize, HybridRecallSettings s) => new ModelConfig
    {
        VocabSize = vocabSize, DModel = s.DModel, Layers = s.Layers, Heads = s.Heads, Mixers = mixers,
    }.Validate();

    /// <summary>
    /// Bytes of the decoding state of every layer of <paramref name="config"/> together, for one sequence after
    /// <paramref name="context"/> tokens, in float32 (<see cref="MixerSpec.StateBytes"/>).
    /// </summary>
    public static long DecodeBytes(ModelConfig config, int context)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Mixers.Resolve(config.Layers).Sum(spec => spec.StateBytes(config.MixerDimensions, 1, context, ScalarType.Float32));
    }

    /// <summary>Trains and evaluates every model of <paramref name="s"/> on both tasks, for every seed.</summary>
    /// <remarks>
    /// The runs (seed × model × task) are independent: with <see cref="HybridRecallSettings.ConcurrentRuns"/> &gt; 1 they
    /// run on that many threads at once (small models leave a GPU idle between kernel launches, so several runs can
    /// share it; <c>pathnb bench gdn</c> measures the gain, 1.2–1.7× in steps per second on an H200). Results come back in the sequential order (seed, model, MQAR then S-NIAH), and on the CPU they are the same numbers:
    /// every run draws only from its own generators, and models are created one at a time (their initial weights come
    /// from torch's global generator).
    /// </remarks>
    /// <param name="run">device, base seed</param>
    /// <param name="corpus">the prose of S2 and S3</param>
    /// <param name="s">sizes</param>
    /// <param name="onLog">called with (task, model, point) at every logged training step of seed 0 (one call at a time)</param>
    public static HybridRecallResult Run(RunContext run, TextCorpus corpus, HybridRecallSettings s, Action<string, string, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        var jobs = (from seed in Enumerable.Range(0, s.Seeds)
                    from model in s.Models
                    from task in new[] { MqarTask, NeedleTask }
                    select (Seed: seed, model.Name, model.Mixers, Task: task)).ToList();
        var gate = new object();
        Action<string, string, TrainPoint>? Log(int seed) => onLog is null || seed != 0 ? null
            : (task, name, point) => { lock (gate) onLog(task, name, point); };
        var done = new (HybridRun Run, List<RecallPoint> Points)[jobs.Count];
        void Job(int j)
        {
            var (seed, name, mixers, task) = jobs[j];
            done[j] = task == MqarTask ? TrainMqar(run, name, mixers, s, seed, Log(seed)) : TrainNeedle(run, corpus, name, mixers, s, seed, Log(seed));
        }
        if (s.ConcurrentRuns == 1)
            for (int j = 0; j < jobs.Count; j++) Job(j);
        else
        {
            // One job at a time to each free thread, MQAR first (it trains longest), seed by seed: a thread never holds
            // a queue of jobs while others are idle at the end.
            var order = Enumerable.Range(0, jobs.Count)
                .OrderByDescending(j => jobs[j].Task == MqarTask ? s.MqarSteps : s.NeedleSteps).ThenBy(j => jobs[j].Seed).ToList();
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(order, System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering),
                new ParallelOptions { MaxDegreeOfParallelism = s.ConcurrentRuns }, Job);
        }
        return new HybridRecallResult(done.Select(d => d.Run).ToList(), done.SelectMany(d => d.Points).ToList());
    }

    /// <summary>Models are created one at a time: their initial weights come from torch's global generator, seeded per model.</summary>
    static readonly object ModelCreation = new();

    static CausalLM NewModel(RunContext run, ModelConfig config, int seed)
    {
        lock (ModelCreation) return run.NewModel(config, seed);
    }

    /// <summary>Trains one model on MQAR (N pairs uniform in the settings' range, all queried) and runs both sweeps.</summary>
    /// <remarks><c>inspect</c>, when given, is called with the trained model and its config after the sweeps (and before a model
    /// of seed &gt; 0 is disposed); the points it returns are added (e.g. the same model evaluated another way).</remarks>
    public static (HybridRun Run, List<RecallPoint> Points) TrainMqar(RunContext run, string name, LayerPattern mixers, HybridRecallSettings s,
        int seed = 0, Action<string, string, TrainPoint>? onLog = null, Func<CausalLM, ModelConfig, IEnumerable<RecallPoint>>? inspect = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        s.Validate();
        var task = Mqar(s);
        var config = Config(mixers, task.VocabSize, s);
        var model = NewModel(run, config, seed);
        var data = run.Generator(SeedStream.TrainingBatches, seed);
        var curve = Trainer.Train(model, _ =>
            {
                int pairs = (int)randint(s.TrainPairsMin, s.TrainPairsMax + 1, new long[] { 1 }, generator: data).item<long>();
                return task.Generate(s.BatchSize, s.TrainLength, pairs, pairs, data, run.Device);
            },
            Options(s.MqarSteps, s), onLog is null ? null : p => onLog(MqarTask, name, p));
        var points = EvaluateMqar(run, model, config, name, s, seed);               // before Done, which disposes models of seeds > 0
        if (inspect is not null) points.AddRange(inspect(model, config));
        return (Done(MqarTask, name, seed, config, model, curve), points);
    }

    /// <summary>Both MQAR sweeps of a trained model: <see cref="HybridRecallSettings.LengthSweepPairs"/> pairs at every
    /// evaluation length, and every pair count of <see cref="HybridRecallSettings.PairSweep"/> at L (the same evaluation
    /// sequences for every model of a seed); <c>name</c> labels the points.</summary>
    public static List<RecallPoint> EvaluateMqar(RunContext run, CausalLM model, ModelConfig config, string name, HybridRecallSettings s, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        var task = Mqar(s);
        var points = new List<RecallPoint>();
        int cell = 0;
        foreach (int length in s.EvalLengths)
            points.Add(Score(MqarLengthSweep, length, s.LengthSweepPairs, double.NaN,
                generator => task.Generate(s.EvalBatch, length, s.LengthSweepPairs, s.LengthSweepPairs, generator, run.Device)));
        foreach (int pairs in s.PairSweep)
            points.Add(Score(MqarPairSweep, s.TrainLength, pairs, double.NaN,
                generator => task.Generate(s.EvalBatch, s.TrainLength, pairs, pairs, generator, run.Device)));
        return points;

        RecallPoint Score(string label, int length, int pairs, double depth, Func<Generator, Batch> batches) =>
            Evaluate(run, model, config, name, seed, label, length, pairs, depth, cell++, s, batches);
    }

    /// <summary>Trains one model on single-needle retrieval (S1, S2, S3 in turn, random depth) and scores each kind at
    /// every evaluation length and depth (validation prose).</summary>
    /// <remarks><c>inspect</c>: as for <see cref="TrainMqar"/>.</remarks>
    public static (HybridRun Run, List<RecallPoint> Points) TrainNeedle(RunContext run, TextCorpus corpus, string name, LayerPattern mixers,
        HybridRecallSettings s, int seed = 0, Action<string, string, TrainPoint>? onLog = null, Func<CausalLM, ModelConfig, IEnumerable<RecallPoint>>? inspect = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        var task = Needle(s, corpus);
        var config = Config(mixers, NeedleInAHaystack.VocabSize, s);
        var model = NewModel(run, config, seed);
        var data = run.Generator(SeedStream.TrainingBatches, seed);
        var kinds = Enum.GetValues<NeedleKind>();
        var curve = Trainer.Train(model, step => task.Generate(kinds[step % kinds.Length], s.BatchSize, s.TrainLength, data, CorpusSplit.Train, null, run.Device),
            Options(s.NeedleSteps, s), onLog is null ? null : p => onLog(NeedleTask, name, p));
        var points = EvaluateNeedle(run, corpus, model, config, name, s, seed);
        if (inspect is not null) points.AddRange(inspect(model, config));
        return (Done(NeedleTask, name, seed, config, model, curve), points);
    }

    /// <summary>Every needle kind at every evaluation length and depth, on validation prose (the same sequences for every
    /// model of a seed).</summary>
    public static List<RecallPoint> EvaluateNeedle(RunContext run, TextCorpus corpus, CausalLM model, ModelConfig config, string name,
        HybridRecallSettings s, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        var task = Needle(s, corpus);
        var points = new List<RecallPoint>();
        int cell = 0;
        foreach (var kind in Enum.GetValues<NeedleKind>())
            foreach (int length in s.EvalLengths)
                foreach (double depth in s.NeedleDepths)
                    points.Add(Evaluate(run, model, config, name, seed, kind.ToString(), length, 0, depth, cell++, s,
                        generator => task.Generate(kind, s.EvalBatch, length, generator, CorpusSplit.Validation, depth, run.Device)));
        return points;
    }

    static TrainOptions Options(int steps, HybridRecallSettings s) =>
        new() { Steps = steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, steps / 20), FlatOptimizer = s.FlatOptimizer };

    /// <summary>Mean score over <see cref="HybridRecallSettings.EvalSequences"/> sequences from the cell's own evaluation
    /// stream (the same for every model of a seed).</summary>
    static RecallPoint Evaluate(RunContext run, CausalLM model, ModelConfig config, string name, int seed, string task, int length, int pairs,
        double depth, int cell, HybridRecallSettings s, Func<Generator, Batch> batches)
    {
        model.eval();
        var generator = run.Generator(SeedStream.Evaluation, seed * 10_000 + cell);
        var scores = new List<RecallScore>();
        for (int done = 0; done < s.EvalSequences; done += s.EvalBatch)
        {
            using var scope = NewDisposeScope();
            using var batch = batches(generator);
            scores.Add(RecallScore.Of(model, batch));
        }
        var mean = RecallScore.Mean(scores);
        return new RecallPoint(task, name, seed, length, pairs, depth, mean.TokenAccuracy, mean.ExactMatch, DecodeBytes(config, length));
    }

    static HybridRun Done(string task, string name, int seed, ModelConfig config, CausalLM model, List<TrainPoint> curve)
    {
        long parameters = model.ParameterCount;
        double seconds = curve.Count > 0 ? curve[^1].Seconds : 0;
        var kept = seed == 0 ? model : null;
        if (kept is null) model.Dispose();
        return new HybridRun(task, name, seed, config, kept, parameters, curve, seconds);
    }

    /// <summary>
    /// One row per evaluation cell (task, model, length, pairs or depth): the score in % (<see cref="RecallPoint.Score"/>:
    /// queries answered for MQAR, needles reproduced exactly for S-NIAH; mean over seeds, with several seeds also the
    /// lowest and highest), exact match and answer-token accuracy in %, and the decoding state in KiB.
    /// </summary>
    public static DataFrame Table(HybridRecallResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var cells = result.Points.GroupBy(p => (p.Task, p.Model, p.Length, p.Pairs, Depth: double.IsNaN(p.Depth) ? -1 : p.Depth))
            .Select(g => (g.Key, Points: g.ToList())).ToList();
        bool seeds = result.Points.Select(p => p.Seed).Distinct().Count() > 1;
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("task", cells.Select(c => c.Key.Task)),
            new StringDataFrameColumn("model", cells.Select(c => c.Key.Model)),
            new PrimitiveDataFrameColumn<int>("length", cells.Select(c => c.Key.Length)),
            new PrimitiveDataFrameColumn<int>("pairs", cells.Select(c => c.Key.Pairs)),
            new DoubleDataFrameColumn("depth", cells.Select(c => c.Key.Depth < 0 ? double.NaN : c.Key.Depth)),
            new DoubleDataFrameColumn("score %", cells.Select(c => Percent(c.Points.Average(p => p.Score)))),
        };
        if (seeds)
        {
            columns.Add(new DoubleDataFrameColumn("lowest seed %", cells.Select(c => Percent(c.Points.Min(p => p.Score)))));
            columns.Add(new DoubleDataFrameColumn("highest seed %", cells.Select(c => Percent(c.Points.Max(p => p.Score)))));
        }
        columns.Add(new DoubleDataFrameColumn("exact match %", cells.Select(c => Percent(c.Points.Average(p => p.ExactMatch)))));
        columns.Add(new DoubleDataFrameColumn("token accuracy %", cells.Select(c => Percent(c.Points.Average(p => p.TokenAccuracy)))));
        columns.Add(new DoubleDataFrameColumn("decode state KiB", cells.Select(c => Math.Round(c.Points[0].DecodeBytes / 1024.0, 1))));
        return new DataFrame(columns);
    }

    /// <summary>
    /// One row per model, the headline numbers (<see cref="RecallPoint.Score"/> in %, mean over seeds): MQAR queries
    /// answered at L, at 4L and with the most pairs; needles reproduced exactly:
    /// S-NIAH (all kinds and depths) at L and at 4L; the decoding state at L and 4L; parameters; training seconds (each
    /// run's own wall time, summed over the model's runs; concurrent runs overlap). With several seeds also the lowest
    /// and highest seed's MQAR @L and S-NIAH @L.
    /// </summary>
    public static DataFrame Summary(HybridRecallResult result, HybridRecallSettings s)
    {
        ArgumentNullException.ThrowIfNull(result);
        int l = s.TrainLength, longest = s.EvalLengths.Max(), most = s.PairSweep.Max();
        var names = result.Runs.Select(r => r.Name).Distinct().ToList();
        double Mean(string model, Func<RecallPoint, bool> where) =>
            Percent(result.Points.Where(p => p.Model == model && where(p)).Select(p => p.Score).DefaultIfEmpty(double.NaN).Average());
        bool Needle(RecallPoint p) => p.Task is "S1" or "S2" or "S3";
        HybridRun First(string model, string task) => result.Runs.First(r => r.Name == model && r.Task == task && r.Seed == 0);
        var seeds = result.Points.Select(p => p.Seed).Distinct().Order().ToList();
        // The lowest and highest of the per-seed means, as "lo–hi".
        string Range(string model, Func<RecallPoint, bool> where)
        {
            var perSeed = seeds.Select(seed => Percent(result.Points.Where(p => p.Model == model && p.Seed == seed && where(p))
                .Select(p => p.Score).DefaultIfEmpty(double.NaN).Average())).ToList();
            return FormattableString.Invariant($"{perSeed.Min():F1}–{perSeed.Max():F1}");
        }
        var ranges = seeds.Count < 2 ? new DataFrameColumn[0] : new DataFrameColumn[]
        {
            new StringDataFrameColumn("MQAR @L seeds %", names.Select(n => Range(n, p => p.Task == MqarLengthSweep && p.Length == l))),
            new StringDataFrameColumn("S-NIAH @L seeds %", names.Select(n => Range(n, p => Needle(p) && p.Length == l))),
        };
        var table = new DataFrame(
            new StringDataFrameColumn("model", names),
            new StringDataFrameColumn("layers", names.Select(n => First(n, MqarTask).Config.MixerName)),
            new PrimitiveDataFrameColumn<long>("params (MQAR)", names.Select(n => First(n, MqarTask).Parameters)),
            new DoubleDataFrameColumn($"MQAR @L ({s.LengthSweepPairs} pairs) %", names.Select(n => Mean(n, p => p.Task == MqarLengthSweep && p.Length == l))),
            new DoubleDataFrameColumn($"MQAR @{longest / l}L %", names.Select(n => Mean(n, p => p.Task == MqarLengthSweep && p.Length == longest))),
            new DoubleDataFrameColumn($"MQAR {most} pairs %", names.Select(n => Mean(n, p => p.Task == MqarPairSweep && p.Pairs == most))),
            new DoubleDataFrameColumn("S-NIAH @L %", names.Select(n => Mean(n, p => Needle(p) && p.Length == l))),
            new DoubleDataFrameColumn($"S-NIAH @{longest / l}L %", names.Select(n => Mean(n, p => Needle(p) && p.Length == longest))),
            new DoubleDataFrameColumn("state @L KiB", names.Select(n => Math.Round(DecodeBytes(First(n, MqarTask).Config, l) / 1024.0, 1))),
            new DoubleDataFrameColumn($"state @{longest / l}L KiB", names.Select(n => Math.Round(DecodeBytes(First(n, MqarTask).Config, longest) / 1024.0, 1))),
            new DoubleDataFrameColumn("train seconds", names.Select(n => Math.Round(result.Runs.Where(r => r.Name == n).Sum(r => r.TrainSeconds), 1))));
        if (ranges.Length == 2)
        {
            table.Columns.Insert(table.Columns.IndexOf($"MQAR @L ({s.LengthSweepPairs} pairs) %") + 1, ranges[0]);
            table.Columns.Insert(table.Columns.IndexOf("S-NIAH @L %") + 1, ranges[1]);
        }
        return table;
    }

    /// <summary>Training curves as a long table (task, model, seed, step, loss).</summary>
    public static DataFrame LossTable(HybridRecallResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = result.Runs.SelectMany(r => r.Curve.Select(p => (r, p))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("task", rows.Select(x => x.r.Task)),
            new StringDataFrameColumn("model", rows.Select(x => x.r.Name)),
            new PrimitiveDataFrameColumn<int>("seed", rows.Select(x => x.r.Seed)),
            new PrimitiveDataFrameColumn<int>("step", rows.Select(x => x.p.Step)),
            new DoubleDataFrameColumn("loss", rows.Select(x => Math.Round(x.p.Loss, 5))));
    }

    static double Percent(double fraction) => Math.Round(100 * fraction, 2);
}
