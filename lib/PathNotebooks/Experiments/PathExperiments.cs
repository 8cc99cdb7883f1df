using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Models;
using PathNotebooks.PaTH;
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
    /// <summary>
    /// Seed index s trains model init stream <see cref="SeedStream.Model"/> + s·10 and batch stream
    /// <see cref="SeedStream.TrainingBatches"/> + s·10: the two never share a seed (without the stride model 1 would
    /// get the seed of batch stream 0). Evaluation sets do not depend on s: every seed is scored on the same sequences.
    /// </summary>
    public const int SeedStride = 10;

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
    /// <param name="seed">seed index: separate model-init and training-batch streams (<see cref="SeedStride"/>); 0 = the base run</param>
    public static FlipFlopResult TrainFlipFlop(RunContext run, ModelConfig config, FlipFlopOptions? options = null, Action<TrainPoint>? onLog = null,
        Action<CausalLM>? inspect = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(config);
        options ??= new FlipFlopOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(seed);
        var device = run.Device;
        var model = run.NewModel(config, seed * SeedStride);
        var trainGen = run.Generator(SeedStream.TrainingBatches, seed * SeedStride);
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
            Error(FlipFlop.InDistribution, 0), Error(FlipFlop.SparseOod, 1), Error(FlipFlop.DenseOod, 2), ms, history, seed);
        inspect?.Invoke(model);
        model.Dispose();
        return result;
    }

    /// <summary>Trains on the word problem of <paramref name="group"/> (running product at every position) and returns
    /// accuracy against prefix length.</summary>
    /// <param name="run">device and seeds of this run</param>
    /// <param name="config">the model to train (vocabulary = group order)</param>
    /// <param name="group">the permutation group</param>
    /// <param name="options">task, training and evaluation settings; null = the defaults</param>
    /// <param name="onLog">called with each logged training point</param>
    /// <param name="seed">seed index: separate model-init and training-batch streams (<see cref="SeedStride"/>); 0 = the base run</param>
    public static WordProblemResult TrainWordProblem(RunContext run, ModelConfig config, PermutationGroup group, WordProblemOptions? options = null,
        Action<TrainPoint>? onLog = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(group);
        options ??= new WordProblemOptions();
        if (config.VocabSize != group.Order)
            throw new ArgumentException($"config.VocabSize must equal the group order {group.Order}, got {config.VocabSize}.", nameof(config));
        if (options.EvalLengths.Count == 0 || options.EvalLengths.Any(l => l < 1))
            throw new ArgumentException("EvalLengths must be a non-empty list of lengths ≥ 1.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(seed);
        var device = run.Device;
        var model = run.NewModel(config, seed * SeedStride);
        var trainGen = run.Generator(SeedStream.TrainingBatches, seed * SeedStride);
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
        return new WordProblemResult(config.MixerName, group.Name, parameters, rows, ms, history, seed);
    }

    /// <summary>One row per run: model, seed index, parameters, error % per split, ms/step.</summary>
    public static DataFrame Table(IEnumerable<FlipFlopResult> results)
    {
        var r = results.ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", r.Select(x => x.Model)),
            new PrimitiveDataFrameColumn<int>("seed", r.Select(x => x.Seed)),
            new PrimitiveDataFrameColumn<long>("params", r.Select(x => x.Parameters)),
            new DoubleDataFrameColumn("error ID % (p_i 0.8)", r.Select(x => Math.Round(100 * x.ErrorInDistribution, 3))),
            new DoubleDataFrameColumn("error sparse % (0.98)", r.Select(x => Math.Round(100 * x.ErrorSparseOod, 3))),
            new DoubleDataFrameColumn("error dense % (0.1)", r.Select(x => Math.Round(100 * x.ErrorDenseOod, 3))),
            new DoubleDataFrameColumn("ms/step", r.Select(x => Math.Round(x.MsPerStep, 1))));
    }

    /// <summary>One row per (run, length): seed index, token, sequence and final-position accuracy.</summary>
    public static DataFrame Table(IEnumerable<WordProblemResult> results)
    {
        var rows = results.SelectMany(r => r.Accuracy.Select(a => (r.Model, r.Group, r.Seed, a))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(x => x.Model)),
            new StringDataFrameColumn("group", rows.Select(x => x.Group)),
            new PrimitiveDataFrameColumn<int>("length", rows.Select(x => x.a.Length)),
            new PrimitiveDataFrameColumn<int>("seed", rows.Select(x => x.Seed)),
            new DoubleDataFrameColumn("token accuracy", rows.Select(x => Math.Round(x.a.TokenAccuracy, 4))),
            new DoubleDataFrameColumn("sequence accuracy", rows.Select(x => Math.Round(x.a.SequenceAccuracy, 4))),
            new DoubleDataFrameColumn("final accuracy", rows.Select(x => Math.Round(x.a.FinalAccuracy, 4))));
    }

    /// <summary>
    /// Mean and spread over seeds, one row per model: read error % per split as mean, min and max over the seeds
    /// (min = max with one seed).
    /// </summary>
    public static DataFrame Summary(IEnumerable<FlipFlopResult> results)
    {
        var groups = results.GroupBy(x => x.Model).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", groups.Select(g => g.Key)),
            new PrimitiveDataFrameColumn<int>("seeds", groups.Select(g => g.Count())),
        };
        foreach (var (name, f) in new (string, Func<FlipFlopResult, double>)[]
            { ("ID", x => x.ErrorInDistribution), ("sparse", x => x.ErrorSparseOod), ("dense", x => x.ErrorDenseOod) })
            columns.AddRange(Spread($"error {name} %", groups.Select(g => g.Select(x => 100 * f(x)).ToList()).ToList()));
        return new DataFrame(columns);
    }

    /// <summary>
    /// Mean and spread over seeds, one row per (model, length): token accuracy (all positions t &lt; L) and final
    /// accuracy (position L − 1 only: the parity of the whole prefix), each as mean, min and max over the seeds.
    /// </summary>
    public static DataFrame Summary(IEnumerable<WordProblemResult> results)
    {
        var groups = results.SelectMany(r => r.Accuracy.Select(a => (r.Model, r.Group, a)))
            .GroupBy(x => (x.Model, x.Group, x.a.Length)).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", groups.Select(g => g.Key.Model)),
            new StringDataFrameColumn("group", groups.Select(g => g.Key.Group)),
            new PrimitiveDataFrameColumn<int>("length", groups.Select(g => g.Key.Length)),
            new PrimitiveDataFrameColumn<int>("seeds", groups.Select(g => g.Count())),
        };
        columns.AddRange(Spread("token accuracy", groups.Select(g => g.Select(x => x.a.TokenAccuracy).ToList()).ToList(), digits: 4));
        columns.AddRange(Spread("final accuracy", groups.Select(g => g.Select(x => x.a.FinalAccuracy).ToList()).ToList(), digits: 4));
        return new DataFrame(columns);
    }

    /// <summary>
    /// Token accuracy over positions <paramref name="trainLength"/> … max − 1 only (beyond the training length), from
    /// the token accuracies at the training length and at the longest evaluation length (both are means over the same
    /// evaluation sequences' prefixes).
    /// </summary>
    /// <param name="result">a word-problem run whose evaluation lengths include <paramref name="trainLength"/></param>
    /// <param name="trainLength">the training length L</param>
    public static double TokenAccuracyBeyond(WordProblemResult result, int trainLength)
    {
        ArgumentNullException.ThrowIfNull(result);
        var atL = result.Accuracy.FirstOrDefault(a => a.Length == trainLength)
            ?? throw new ArgumentException($"the evaluation lengths must include the training length {trainLength}.", nameof(trainLength));
        var longest = result.Accuracy.MaxBy(a => a.Length)!;
        if (longest.Length <= trainLength)
            throw new ArgumentException($"no evaluation length beyond {trainLength}.", nameof(trainLength));
        return (longest.TokenAccuracy * longest.Length - atL.TokenAccuracy * trainLength) / (longest.Length - trainLength);
    }

    static IEnumerable<DataFrameColumn> Spread(string name, IReadOnlyList<List<double>> values, int digits = 3) => new[]
    {
        new DoubleDataFrameColumn($"{name} mean", values.Select(v => Math.Round(v.Average(), digits))),
        new DoubleDataFrameColumn($"{name} min", values.Select(v => Math.Round(v.Min(), digits))),
        new DoubleDataFrameColumn($"{name} max", values.Select(v => Math.Round(v.Max(), digits))),
    };

    /// <summary>Training loss curves of several runs as a long table (model, step, loss).</summary>
    public static DataFrame LossTable(IEnumerable<(string Model, IReadOnlyList<TrainPoint> History)> runs)
    {
        var rows = runs.SelectMany(r => r.History.Select(p => (r.Model, p))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(x => x.Model)),
            new PrimitiveDataFrameColumn<int>("step", rows.Select(x => x.p.Step)),
            new DoubleDataFrameColumn("loss", rows.Select(x => x.p.Loss)));
    }

    // ---- What a trained flip-flop model does (notebook 03, section 6b) ----

    /// <summary>The six token types, in table order.</summary>
    public static IReadOnlyList<string> FlipFlopTokenTypes { get; } = new[] { "w", "r", "i", "bit after w", "bit after r", "bit after i" };

    /// <summary>Key categories of <see cref="FlipFlopReadAttention"/>, in table order.</summary>
    public static IReadOnlyList<string> FlipFlopKeyCategories { get; } = new[] { "last written bit", "its w instruction", "other bits", "other instructions" };

    /// <summary>Type index (into <see cref="FlipFlopTokenTypes"/>) of every input position of <paramref name="inputs"/> <c>[B, T]</c>.</summary>
    public static int[,] FlipFlopTypes(Tensor inputs)
    {
        Shapes.Rank(inputs, 2, nameof(inputs), "[B, T]");
        long rows = inputs.shape[0], cols = inputs.shape[1];
        var data = inputs.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var types = new int[rows, cols];
        for (long b = 0; b < rows; b++)
            for (long t = 0; t < cols; t++)
                types[b, t] = t % 2 == 0 ? (int)data[b * cols + t] : 3 + (int)data[b * cols + t - 1];   // w r i = 0 1 2
        return types;
    }

    /// <summary>
    /// Per head and token type: mean β, mean |cos(w_t, k̂)| and mean kept fraction of the last written bit's key
    /// (see the remarks; positions before the first written bit are skipped). One row per (head, type).
    /// </summary>
    /// <remarks>
    /// Token types of an input position t (sequences alternate instruction, bit): the instructions <c>w</c>, <c>r</c>,
    /// <c>i</c>, and the bits after each (<c>bit after w</c> = the written bit, …).
    /// For the key of the last written bit j &lt; t, k̂ = H_{t−1} ⋯ H_{j+1} k_j (the key as the path has carried it to t),
    /// H_t keeps the fraction ‖H_t k̂‖² / ‖k̂‖² = 1 − β_t (2 − β_t) cos²(w_t, k̂) of its squared norm: 1 when w_t ⟂ k̂ or
    /// β_t = 0 or 2 (a reflection keeps the norm but flips the w-component), 0 when β_t = 1 and w_t ∥ k̂ (erased).
    /// </remarks>
    /// <param name="model">a trained one-layer (or deeper: layer 0 is read) PaTH flip-flop model</param>
    /// <param name="inputs">flip-flop inputs <c>[B, T]</c> (e.g. <see cref="FlipFlop.Generate(int, int, double, Generator, Device?)"/>'s)</param>
    public static DataFrame FlipFlopTransforms(CausalLM model, Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Blocks[0].Mixer is not PathAttention path)
            throw new ArgumentException($"layer 0 of the model must be PaTH attention, got {model.Blocks[0].Mixer.GetType().Name}.", nameof(model));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        var tokens = inputs.to(device);
        Tensor? h0 = null;
        model.Forward(tokens, (l, h) => { if (l == 0) h0 = h.clone().MoveToOuterDisposeScope(); return h; });
        var x = model.Blocks[0].MixerInput(h0!);                                        // [B, T, DModel]
        var (w, beta, _) = path.Transforms(x);                                          // [B, H, T, d], [B, H, T]
        var keys = PathKeys(path, x).to(w.dtype);                                           // [B, H, T, d]
        long batch = w.shape[0], heads = w.shape[1], length = w.shape[2];
        var types = FlipFlopTypes(inputs);

        // Walk along the sequence with the key of the last written bit as the path has carried it so far.
        var carried = zeros_like(keys[.., .., 0]);                                      // [B, H, d]
        var cosSteps = new List<Tensor>();
        var keptSteps = new List<Tensor>();
        var seen = new bool[batch, length];                                             // a written bit at or before t
        for (long t = 0; t < length; t++)
        {
            var wt = w[.., .., t]; var bt = beta[.., .., t];
            var c = (wt * carried).sum(-1) / carried.norm(dim: -1).clamp_min(1e-12);      // cos(w_t, k̂)   [B, H]
            cosSteps.Add(c.abs());
            keptSteps.Add(1 - bt * (2 - bt) * c * c);
            carried = carried - bt.unsqueeze(-1) * (wt * carried).sum(-1, keepdim: true) * wt;   // H_t acts
            // a written bit becomes the new carried key (H_t does not act on its own key)
            var isWrite = new bool[batch];
            for (long b = 0; b < batch; b++)
            {
                isWrite[b] = types[b, t] == 3;
                seen[b, t] = isWrite[b] || (t > 0 && seen[b, t - 1]);
            }
            if (isWrite.Any(v => v))
                carried = where(tensor(isWrite, device: device).view(batch, 1, 1), keys[.., .., t], carried);
        }
        var cosData = stack(cosSteps, -1).cpu().to(ScalarType.Float64).data<double>().ToArray();     // [B, H, T]
        var keptData = stack(keptSteps, -1).cpu().to(ScalarType.Float64).data<double>().ToArray();
        var betaData = beta.cpu().to(ScalarType.Float64).data<double>().ToArray();

        var rows = new List<(int Head, string Type, int Count, double Beta, double Cos, double Kept)>();
        for (int hh = 0; hh < heads; hh++)
            for (int type = 0; type < FlipFlopTokenTypes.Count; type++)
            {
                int n = 0, m = 0; double sb = 0, sc = 0, sk = 0;
                for (long b = 0; b < batch; b++)
                    for (long t = 0; t < length; t++)
                    {
                        if (types[b, t] != type) continue;
                        n++; sb += betaData[(b * heads + hh) * length + t];
                        if (t == 0 || !seen[b, t - 1]) continue;                      // no written bit before t yet
                        long at = (b * heads + hh) * length + t;
                        m++; sc += cosData[at]; sk += keptData[at];
                    }
                rows.Add((hh + 1, FlipFlopTokenTypes[type], n, n > 0 ? sb / n : double.NaN, m > 0 ? sc / m : double.NaN, m > 0 ? sk / m : double.NaN));
            }
        return new DataFrame(
            new PrimitiveDataFrameColumn<int>("head", rows.Select(r => r.Head)),
            new StringDataFrameColumn("token type", rows.Select(r => r.Type)),
            new PrimitiveDataFrameColumn<int>("tokens", rows.Select(r => r.Count)),
            new DoubleDataFrameColumn("mean β", rows.Select(r => Math.Round(r.Beta, 3))),
            new DoubleDataFrameColumn("mean |cos(w, k̂ last write)|", rows.Select(r => Math.Round(r.Cos, 3))),
            new DoubleDataFrameColumn("kept ‖H k̂‖²/‖k̂‖²", rows.Select(r => Math.Round(r.Kept, 3))));
    }

    /// <summary>
    /// Where the read queries look: for every read position (input token <c>r</c>) the attention mass on the last
    /// written bit, on the <c>w</c> instruction just before it, on all other bits and on all other instructions;
    /// mean over reads, one row per head. Works for any mixer that captures attention (NoPE, RoPE, PaTH).
    /// </summary>
    /// <param name="model">a trained flip-flop model (layer 0 is read)</param>
    /// <param name="inputs">flip-flop inputs <c>[B, T]</c></param>
    public static DataFrame FlipFlopReadAttention(CausalLM model, Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        model.CaptureAttention(true);
        Tensor probs;
        try
        {
            model.forward(inputs.to(device));
            probs = model.Blocks[0].Mixer.LastAttention!.to(ScalarType.Float64).cpu();  // [B, H, T, T]
        }
        finally { model.CaptureAttention(false); }
        long batch = probs.shape[0], heads = probs.shape[1], length = probs.shape[2];
        var p = probs.data<double>().ToArray();
        var types = FlipFlopTypes(inputs);
        var mass = new double[heads, FlipFlopKeyCategories.Count];
        int reads = 0;
        for (long b = 0; b < batch; b++)
        {
            long lastWrite = -1;
            for (long t = 0; t < length; t++)
            {
                if (types[b, t] == 3) lastWrite = t;
                if (types[b, t] != 1 || lastWrite < 0) continue;
                reads++;
                for (long hh = 0; hh < heads; hh++)
                {
                    long row = ((b * heads + hh) * length + t) * length;
                    for (long j = 0; j <= t; j++)
                    {
                        int cat = j == lastWrite ? 0 : j == lastWrite - 1 ? 1 : j % 2 == 1 ? 2 : 3;
                        mass[hh, cat] += p[row + j];
                    }
                }
            }
        }
        var columns = new List<DataFrameColumn> { new PrimitiveDataFrameColumn<int>("head", Enumerable.Range(1, (int)heads)) };
        for (int c = 0; c < FlipFlopKeyCategories.Count; c++)
        {
            int cc = c;
            columns.Add(new DoubleDataFrameColumn($"mass on {FlipFlopKeyCategories[c]}",
                Enumerable.Range(0, (int)heads).Select(hh => Math.Round(mass[hh, cc] / Math.Max(1, reads), 3))));
        }
        return new DataFrame(columns);
    }

    /// <summary>The layer's keys <c>[B, H, T, HeadDim]</c> of mixer inputs <paramref name="x"/> <c>[B, T, DModel]</c>, from its key projection's weight.</summary>
    static Tensor PathKeys(PathAttention path, Tensor x)
    {
        var weight = path.named_parameters().First(p => p.name.EndsWith("key.weight", StringComparison.Ordinal)).parameter;
        long b = x.shape[0], t = x.shape[1];
        int h = path.Dimensions.Heads, d = path.Dimensions.HeadDim;
        return nn.functional.linear(x, weight).view(b, t, h, d).transpose(1, 2);
    }
}
