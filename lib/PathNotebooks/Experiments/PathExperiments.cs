using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using PathNotebooks.Tasks;
using static TorchSharp.torch;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>
/// Small experiments for notebook 03: train a <see cref="CausalLM"/> config on flip-flop or a permutation word problem
/// and return plain records (turn them into tables with <see cref="Table(IEnumerable{FlipFlopResult})"/>). Runs on
/// <see cref="RunContext.Device"/>; same seed → same numbers on CPU.
/// </summary>
public static class PathExperiments
{
    /// <summary>The paper's flip-flop model: 1 layer, d = 64, 2 heads, vocabulary 5.</summary>
    public static ModelConfig FlipFlopConfig(PositionEncoding encoding) =>
        new() { VocabSize = FlipFlop.VocabSize, DModel = 64, Heads = 2, Layers = 1, Mixers = PositionEncodings.Spec(encoding) };

    /// <summary>Trains on flip-flop (p(i) = <see cref="FlipFlopOptions.TrainIgnoreProbability"/>), then measures the read
    /// error on fresh ID (0.8), sparse OOD (0.98) and dense OOD (0.1) sequences of the same length.</summary>
    /// <param name="run">device and seeds of this run</param>
    /// <param name="config">the model to train (see <see cref="FlipFlopConfig"/>)</param>
    /// <param name="options">task, training and evaluation settings; null = the defaults</param>
    /// <param name="onLog">called with each logged training point (e.g. to draw a live loss curve)</param>
    /// <param name="inspect">called with the trained model before it is released (e.g. to draw its attention maps)</param>
    public static FlipFlopResult TrainFlipFlop(RunContext run, ModelConfig config, FlipFlopOptions? options = null, Action<TrainPoint>? onLog = null,
        Action<CausalLM>? inspect = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(config);
        options ??= new FlipFlopOptions();
        var device = run.Device;
        var model = run.NewModel(config);
        var trainGen = run.Generator(SeedStream.TrainingBatches);
        var clock = Stopwatch.StartNew();
        var history = Trainer.Train(model,
            _ => FlipFlop.Generate(options.BatchSize, options.Pairs, options.TrainIgnoreProbability, trainGen, device),
            new TrainOptions { Steps = options.Steps, LearningRate = options.LearningRate, WarmupSteps = options.WarmupSteps, LogEvery = options.LogEvery },
            onLog);
        double ms = clock.Elapsed.TotalMilliseconds / options.Steps;
        double Error(double pIgnore, int seedOffset)
        {
            var gen = run.Generator(SeedStream.Evaluation, seedOffset);
            double sum = 0; int batches = Math.Max(1, options.EvalSequences / options.BatchSize);
            for (int i = 0; i < batches; i++)
            {
                using var batch = FlipFlop.Generate(options.BatchSize, options.Pairs, pIgnore, gen, device);
                sum += FlipFlop.ReadError(model, batch);
            }
            return sum / batches;
        }
        var result = new FlipFlopResult(config.MixerName, model.ParameterCount,
            Error(FlipFlop.InDistribution, 0), Error(FlipFlop.SparseOod, 1), Error(FlipFlop.DenseOod, 2), ms, history);
        inspect?.Invoke(model);
        model.Dispose();
        return result;
    }

    /// <summary>Trains on the word problem of <paramref name="group"/> (running product at every position) and returns
    /// accuracy against prefix length.</summary>
    public static WordProblemResult TrainWordProblem(RunContext run, ModelConfig config, PermutationGroup group, WordProblemOptions? options = null,
        Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(group);
        options ??= new WordProblemOptions();
        if (config.VocabSize != group.Order)
            throw new ArgumentException($"config.VocabSize must equal the group order {group.Order}, got {config.VocabSize}.", nameof(config));
        if (options.EvalLengths.Count == 0 || options.EvalLengths.Any(l => l < 1))
            throw new ArgumentException("EvalLengths must be a non-empty list of lengths ≥ 1.", nameof(options));
        var device = run.Device;
        var model = run.NewModel(config);
        var trainGen = run.Generator(SeedStream.TrainingBatches);
        var clock = Stopwatch.StartNew();
        var history = Trainer.Train(model, _ => WordProblem.Generate(group, options.BatchSize, options.Length, trainGen, device, options.Alphabet),
            new TrainOptions { Steps = options.Steps, LearningRate = options.LearningRate, LogEvery = options.LogEvery }, onLog);
        double ms = clock.Elapsed.TotalMilliseconds / options.Steps;

        int maxLength = options.EvalLengths.Max();
        var evalGen = run.Generator(SeedStream.Evaluation);
        var correct = new List<Tensor>();                                              // [b, maxLength] bool per batch
        using (var _ = no_grad())
            for (int done = 0; done < options.EvalSequences; done += options.BatchSize)
            {
                using var scope = NewDisposeScope();
                using var batch = WordProblem.Generate(group, Math.Min(options.BatchSize, options.EvalSequences - done), maxLength, evalGen, device, options.Alphabet);
                correct.Add(model.forward(batch.Inputs).argmax(-1).eq(batch.Targets).cpu().DetachFromDisposeScope());
            }
        using var evalScope = NewDisposeScope();
        var all = cat(correct, 0).to(ScalarType.Float64);                             // [S, maxLength]
        var rows = options.EvalLengths.Select(l => new LengthAccuracy(l,
            all[.., ..l].mean().item<double>(),
            all[.., ..l].amin(new long[] { 1 }).mean().item<double>(),
            all[.., l - 1].mean().item<double>())).ToList();
        foreach (var c in correct) c.Dispose();
        all.Dispose();
        long parameters = model.ParameterCount;
        model.Dispose();
        return new WordProblemResult(config.MixerName, group.Name, parameters, rows, ms, history);
    }

    /// <summary>One row per run: model, parameters, error % per split, ms/step.</summary>
    public static DataFrame Table(IEnumerable<FlipFlopResult> results)
    {
        var r = results.ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", r.Select(x => x.Model)),
            new PrimitiveDataFrameColumn<long>("params", r.Select(x => x.Parameters)),
            new DoubleDataFrameColumn("error ID % (p_i 0.8)", r.Select(x => Math.Round(100 * x.ErrorInDistribution, 3))),
            new DoubleDataFrameColumn("error sparse % (0.98)", r.Select(x => Math.Round(100 * x.ErrorSparseOod, 3))),
            new DoubleDataFrameColumn("error dense % (0.1)", r.Select(x => Math.Round(100 * x.ErrorDenseOod, 3))),
            new DoubleDataFrameColumn("ms/step", r.Select(x => Math.Round(x.MsPerStep, 1))));
    }

    /// <summary>One row per (run, length): token, sequence and final-position accuracy.</summary>
    public static DataFrame Table(IEnumerable<WordProblemResult> results)
    {
        var rows = results.SelectMany(r => r.Accuracy.Select(a => (r.Model, r.Group, a))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(x => x.Model)),
            new StringDataFrameColumn("group", rows.Select(x => x.Group)),
            new PrimitiveDataFrameColumn<int>("length", rows.Select(x => x.a.Length)),
            new DoubleDataFrameColumn("token accuracy", rows.Select(x => Math.Round(x.a.TokenAccuracy, 4))),
            new DoubleDataFrameColumn("sequence accuracy", rows.Select(x => Math.Round(x.a.SequenceAccuracy, 4))),
            new DoubleDataFrameColumn("final accuracy", rows.Select(x => Math.Round(x.a.FinalAccuracy, 4))));
    }

    /// <summary>Training loss curves of several runs as a long table (model, step, loss).</summary>
    public static DataFrame LossTable(IEnumerable<(string Model, IReadOnlyList<TrainPoint> History)> runs)
    {
        var rows = runs.SelectMany(r => r.History.Select(p => (r.Model, p))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(x => x.Model)),
            new PrimitiveDataFrameColumn<int>("step", rows.Select(x => x.p.Step)),
            new DoubleDataFrameColumn("loss", rows.Select(x => x.p.Loss)));
    }
}
