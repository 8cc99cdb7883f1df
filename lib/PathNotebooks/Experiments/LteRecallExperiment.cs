using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Eviction;
using PathNotebooks.Models;
using PathNotebooks.Tasks;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>
/// Notebook 06's experiment: does a learned, fixed-size set of kept tokens bring back the recall a fixed-size GDN state
/// loses? Every model of <see cref="LteRecallSettings.Models"/> is trained and scored as in notebook 05 (MQAR, single
/// needles; L … 4L). The trained laLTE models are scored a second time with the recency heuristic in place of their
/// learned scores, at the same cache; laLTE is also trained on MQAR at the buffers of <see cref="LteRecallSettings.BufferSweep"/>.
/// Evaluation runs the capped forward, which equals decoding with the fixed-size cache (a test pins the two together).
/// </summary>
public static class LteRecallExperiment
{
    /// <summary>The name of the trained laLTE model scored with <see cref="EvictionPolicy.Recency"/>.</summary>
    public const string Heuristic = "laLTE, recency";

    /// <summary>The name of the sweep model with buffer <paramref name="buffer"/>.</summary>
    public static string SweepName(int buffer) => $"laLTE b={buffer}";

    /// <summary>The LTE layers of <paramref name="model"/>.</summary>
    public static IReadOnlyList<LteAttention> LteLayers(CausalLM model) => model.Mixers.OfType<LteAttention>().ToList();

    /// <summary>Trains and evaluates every model, the heuristic and the buffer sweep, for every seed.</summary>
    public static LteRecallResult Run(RunContext run, TextCorpus corpus, LteRecallSettings s, Action<string, string, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpus);
        s.Validate();
        var r = s.Recall;
        var runs = new List<HybridRun>();
        var points = new List<RecallPoint>();
        var sweep = new List<BufferPoint>();
        for (int seed = 0; seed < r.Seeds; seed++)
        {
            int seedIndex = seed;
            foreach (var (name, mixers) in s.Models)
            {
                bool lte = name == "laLTE";
                var (mqarRun, mqarPoints) = HybridRecallExperiment.TrainMqar(run, name, mixers, r, seed, onLog,
                    lte ? (model, config) =>
                    {
                        MeasureKept(model, s, s.LteBuffer, seedIndex, run, sweep);
                        return WithRecency(model, () => HybridRecallExperiment.EvaluateMqar(run, model, config, Heuristic, r, seedIndex));
                    } : null);
                runs.Add(mqarRun);
                points.AddRange(mqarPoints);
                var (needleRun, needlePoints) = HybridRecallExperiment.TrainNeedle(run, corpus, name, mixers, r, seed, onLog,
                    lte ? (model, config) => WithRecency(model, () => HybridRecallExperiment.EvaluateNeedle(run, corpus, model, config, Heuristic, r, seedIndex)) : null);
                runs.Add(needleRun);
                points.AddRange(needlePoints);
            }
            foreach (int buffer in s.BufferSweep)
            {
                var (sweepRun, sweepPoints) = HybridRecallExperiment.TrainMqar(run, SweepName(buffer), s.LaLte(buffer), r, seed, onLog,
                    (model, _) =>
                    {
                        MeasureKept(model, s, buffer, seedIndex, run, sweep);
                        return Array.Empty<RecallPoint>();
                    });
                runs.Add(sweepRun);
                points.AddRange(sweepPoints);
            }
        }
        // the sweep's recall numbers, from the points of its models
        var longest = r.EvalLengths.Max();
        double Score(string model, int seed, int length) => points.Where(p => p.Model == model && p.Seed == seed
            && p.Task == HybridRecallExperiment.MqarLengthSweep && p.Length == length).Select(p => p.Score).DefaultIfEmpty(double.NaN).Average();
        var filled = sweep.Select(b =>
        {
            string model = b.Buffer == s.LteBuffer ? "laLTE" : SweepName(b.Buffer);
            return b with { MqarAtL = Score(model, b.Seed, r.TrainLength), MqarAtLongest = Score(model, b.Seed, longest) };
        }).OrderBy(b => b.Buffer).ThenBy(b => b.Seed).ToList();
        return new LteRecallResult(new HybridRecallResult(runs, points), filled);
    }

    /// <summary>Runs <paramref name="evaluate"/> with every LTE layer of <paramref name="model"/> on the recency heuristic.</summary>
    static List<RecallPoint> WithRecency(CausalLM model, Func<List<RecallPoint>> evaluate)
    {
        var layers = LteLayers(model);
        foreach (var l in layers) l.Policy = EvictionPolicy.Recency;
        try { return evaluate(); }
        finally { foreach (var l in layers) l.Policy = EvictionPolicy.Learned; }
    }

    /// <summary>Adds the kept fraction of a trained model (MQAR evaluation sequences at L) to <paramref name="sweep"/>.</summary>
    static void MeasureKept(CausalLM model, LteRecallSettings s, int buffer, int seed, RunContext run, List<BufferPoint> sweep)
    {
        var r = s.Recall;
        var batch = HybridRecallExperiment.Mqar(r).Generate(r.EvalBatch, r.TrainLength, r.LengthSweepPairs, r.LengthSweepPairs,
            run.Generator(SeedStream.Evaluation, seed * 10_000 + 9_000), run.Device);
        double kept;
        using (batch) kept = KeptFraction(model, batch.Inputs);
        var config = model.Config;
        sweep.Add(new BufferPoint(buffer, seed, kept, double.NaN, double.NaN, HybridRecallExperiment.DecodeBytes(config, r.TrainLength)));
    }

    /// <summary>Fraction of tokens the LTE layers' scorers keep (r &gt; 0) on <paramref name="tokens"/> <c>[B, T]</c>, mean over
    /// LTE layers, heads, sequences and positions.</summary>
    public static double KeptFraction(CausalLM model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        var maps = KeepMaps(model, tokens);
        double fraction = maps.Count == 0 ? double.NaN : maps.Average(m => m.to(ScalarType.Float64).mean().item<double>());
        foreach (var m in maps) m.Dispose();
        return fraction;
    }

    /// <summary>Which tokens each LTE layer's scorer keeps on <paramref name="tokens"/> <c>[B, T]</c>: one <c>[B, H, T]</c>
    /// bool map per LTE layer, layer order (the real inputs of each layer, no gradient).</summary>
    public static List<Tensor> KeepMaps(CausalLM model, Tensor tokens) => KeepScores(model, tokens).Select(r =>
    {
        var kept = r.gt(0);
        r.Dispose();
        return kept;
    }).ToList();

    /// <summary>The keep scores r <c>[B, H, T]</c> of each LTE layer on <paramref name="tokens"/> <c>[B, T]</c> (no gradient).</summary>
    public static List<Tensor> KeepScores(CausalLM model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        var scores = new List<Tensor>();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.Forward(tokens, (layer, h) =>
        {
            if (layer < model.Blocks.Count && model.Blocks[layer].Mixer is LteAttention lte)
                scores.Add(lte.Scores(model.Blocks[layer].MixerInput(h)).DetachFromDisposeScope());
            return h;
        });
        return scores;
    }

    /// <summary>
    /// One row per model (the heuristic and the sweep models included): the decoding cache at L and at the longest
    /// length, and the headline scores in % (mean over seeds): MQAR at L, at the longest length and with the most pairs;
    /// S-NIAH at L and at the longest length (models trained on MQAR only show NaN there).
    /// </summary>
    public static DataFrame Summary(LteRecallResult result, LteRecallSettings s)
    {
        ArgumentNullException.ThrowIfNull(result);
        var r = s.Recall;
        int l = r.TrainLength, longest = r.EvalLengths.Max(), most = r.PairSweep.Max();
        var points = result.Recall.Points;
        var names = points.Select(p => p.Model).Distinct().ToList();
        double Mean(string model, Func<RecallPoint, bool> where) =>
            Math.Round(100 * points.Where(p => p.Model == model && where(p)).Select(p => p.Score).DefaultIfEmpty(double.NaN).Average(), 2);
        bool Needle(RecallPoint p) => p.Task is "S1" or "S2" or "S3";
        long Bytes(string model, int length) => points.First(p => p.Model == model && p.Length == length).DecodeBytes;
        string Layers(string model)
        {
            var run = result.Recall.Runs.FirstOrDefault(x => x.Name == model) ?? result.Recall.Runs.First(x => x.Name == "laLTE");
            return run.Config.MixerName + (model == Heuristic ? " (recency)" : "");
        }
        return new DataFrame(
            new StringDataFrameColumn("model", names),
            new StringDataFrameColumn("layers", names.Select(Layers)),
            new DoubleDataFrameColumn("cache @L KiB", names.Select(n => Math.Round(Bytes(n, l) / 1024.0, 1))),
            new DoubleDataFrameColumn($"cache @{longest / l}L KiB", names.Select(n => Math.Round(Bytes(n, longest) / 1024.0, 1))),
            new DoubleDataFrameColumn($"MQAR @L ({r.LengthSweepPairs} pairs) %", names.Select(n => Mean(n, p => p.Task == HybridRecallExperiment.MqarLengthSweep && p.Length == l))),
            new DoubleDataFrameColumn($"MQAR @{longest / l}L %", names.Select(n => Mean(n, p => p.Task == HybridRecallExperiment.MqarLengthSweep && p.Length == longest))),
            new DoubleDataFrameColumn($"MQAR {most} pairs %", names.Select(n => Mean(n, p => p.Task == HybridRecallExperiment.MqarPairSweep && p.Pairs == most))),
            new DoubleDataFrameColumn("S-NIAH @L %", names.Select(n => Mean(n, p => Needle(p) && p.Length == l))),
            new DoubleDataFrameColumn($"S-NIAH @{longest / l}L %", names.Select(n => Mean(n, p => Needle(p) && p.Length == longest))));
    }

    /// <summary>The buffer sweep: one row per buffer (mean over seeds): kept fraction and MQAR scores in %, cache in KiB.</summary>
    public static DataFrame SweepTable(LteRecallResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var groups = result.Sweep.GroupBy(b => b.Buffer).OrderBy(g => g.Key).ToList();
        return new DataFrame(
            new PrimitiveDataFrameColumn<int>("buffer b", groups.Select(g => g.Key)),
            new DoubleDataFrameColumn("kept % (r > 0)", groups.Select(g => Math.Round(100 * g.Average(b => b.KeptFraction), 2))),
            new DoubleDataFrameColumn("MQAR @L %", groups.Select(g => Math.Round(100 * g.Average(b => b.MqarAtL), 2))),
            new DoubleDataFrameColumn("MQAR @longest %", groups.Select(g => Math.Round(100 * g.Average(b => b.MqarAtLongest), 2))),
            new DoubleDataFrameColumn("cache KiB", groups.Select(g => Math.Round(g.First().CacheBytes / 1024.0, 1))));
    }

    /// <summary>λ and the kept count over training of every LTE layer and head (seed-0 models): task, model, layer,
    /// head, step, λ, moving average of kept tokens per sequence.</summary>
    public static DataFrame ControllerTable(LteRecallResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = new List<(string Task, string Model, int Layer, int Head, int Step, double Lambda, double Kept)>();
        foreach (var run in result.Recall.Runs.Where(x => x.Model is not null))
        {
            var mixers = run.Model!.Mixers;
            for (int layer = 0; layer < mixers.Count; layer++)
                if (mixers[layer] is LteAttention lte)
                    foreach (var u in lte.Controller.History)
                        for (int h = 0; h < u.Lambda.Length; h++)
                            rows.Add((run.Task, run.Name, layer, h, u.Step, u.Lambda[h], Math.Round(u.Kept[h], 3)));
        }
        return new DataFrame(
            new StringDataFrameColumn("task", rows.Select(x => x.Task)),
            new StringDataFrameColumn("model", rows.Select(x => x.Model)),
            new PrimitiveDataFrameColumn<int>("layer", rows.Select(x => x.Layer)),
            new PrimitiveDataFrameColumn<int>("head", rows.Select(x => x.Head)),
            new PrimitiveDataFrameColumn<int>("step", rows.Select(x => x.Step)),
            new DoubleDataFrameColumn("lambda", rows.Select(x => x.Lambda)),
            new DoubleDataFrameColumn("kept per sequence", rows.Select(x => x.Kept)));
    }
}
