using System.Diagnostics;
using PathNotebooks.Data;
using PathNotebooks.Training;
using PathNotebooks.PositionalVectors;

namespace PathNotebooks.Experiments;

/// <summary>
/// Notebook 02's experiment: trains four byte-level LMs at context C on the shipped corpus (NoPE, RoPE, ALiBi,
/// window NoPE), measures their positional vectors at C and at EvalMultiple·C, their perplexity by position out
/// to EvalMultiple·C, and the two training-free extensions of the paper (positional-vector replacement for NoPE,
/// attention-window extension for window NoPE) plus the attention-scaling baseline for NoPE.
/// </summary>
public static class PositionalVectorsExperiment
{
    /// <summary><see cref="Train"/> then <see cref="Extend"/>: everything the notebook measures in one call.</summary>
    /// <param name="run">device and seeds of this run</param>
    /// <param name="settings">sizes and extension parameters (<see cref="PositionalVectorsSettings.Tiny"/> or <see cref="PositionalVectorsSettings.Full"/>)</param>
    /// <param name="corpus">default: the shipped corpus (<see cref="TextCorpus.Load"/>)</param>
    /// <param name="onLog">called with (model name, training point) while training</param>
    public static PositionalVectorsResult Run(RunContext run, PositionalVectorsSettings settings, TextCorpus? corpus = null, Action<string, TrainPoint>? onLog = null) =>
        Extend(Train(run, settings, corpus, onLog));

    /// <summary>
    /// Trains the four models once per seed and measures, for each, its positional vectors at C and at
    /// EvalMultiple·C and its loss by position out to EvalMultiple·C. The result has no extensions yet.
    /// Seed s trains model i with initialisation stream <c>Model + s·4 + i</c> and corpus windows
    /// <c>CorpusWindows + s·4 + i</c>; the evaluation and decomposition sequences are the same for every seed.
    /// </summary>
    /// <param name="run">device and seeds of this run</param>
    /// <param name="settings">sizes and extension parameters (<see cref="PositionalVectorsSettings.Tiny"/> or <see cref="PositionalVectorsSettings.Full"/>)</param>
    /// <param name="corpus">default: the shipped corpus (<see cref="TextCorpus.Load"/>)</param>
    /// <param name="onLog">called with (model name, training point) while training</param>
    public static PositionalVectorsResult Train(RunContext run, PositionalVectorsSettings settings, TextCorpus? corpus = null, Action<string, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(settings);
        var s = settings.Validate();
        corpus ??= TextCorpus.Load();
        var device = run.Device;
        int c = s.TrainLength, longLength = s.EvalMultiple * c;
        // Fixed validation windows: [N, 4C + 1] for perplexity (inputs :4C, targets 1:), [M, C] and [N, 4C] for p.
        var evalSequences = corpus.Sequences(CorpusSplit.Validation, s.EvalSequences, longLength + 1).DetachFromDisposeScope();
        var shortSequences = corpus.Sequences(CorpusSplit.Train, s.DecompositionSequences, c).DetachFromDisposeScope();

        var runs = new List<PositionalLmRun>();
        var models = s.Models();
        for (int seed = 0; seed < s.Seeds; seed++)
            for (int i = 0; i < models.Count; i++)
            {
                var (name, config) = models[i];
                int index = seed * models.Count + i;                                    // separate streams per seed and model
                var model = run.NewModel(config, index);
                var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, c, run.SeedFor(SeedStream.CorpusWindows, index), device);
                var clock = Stopwatch.StartNew();
                var curve = Trainer.Train(model, sampler,
                    new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 25) },
                    onLog is null ? null : p => onLog(name, p));
                double seconds = clock.Elapsed.TotalSeconds;
                model.eval();
                var inWindow = PositionalVectorExtractor.Collect(model, shortSequences, s.EvalBatchSize);
                var longVectors = PositionalVectorExtractor.Collect(model, evalSequences[.., ..longLength], s.EvalBatchSize);
                var perplexity = PerplexityEvaluator.Evaluate(model, evalSequences, c, s.EvalBatchSize);
                runs.Add(new PositionalLmRun(name, seed, model, curve, seconds, inWindow, longVectors, perplexity));
            }
        return new PositionalVectorsResult(s, runs, Array.Empty<ExtensionRun>(), evalSequences);
    }

    /// <summary>
    /// The training-free extensions, for every seed's models: positional-vector replacement at each of
    /// <see cref="PositionalVectorsSettings.ReplacementLayers"/> and attention scaling (λ ≠ 1) for NoPE, the
    /// attention-window extension ×<see cref="PositionalVectorsSettings.WindowRatio"/> at each λ for window NoPE.
    /// Returns <paramref name="trained"/> with <see cref="PositionalVectorsResult.Extensions"/> filled (replacing any before).
    /// </summary>
    /// <param name="trained">the result of <see cref="Train"/></param>
    public static PositionalVectorsResult Extend(PositionalVectorsResult trained)
    {
        ArgumentNullException.ThrowIfNull(trained);
        var s = trained.Settings;
        int c = s.TrainLength;
        var evalSequences = trained.EvalSequences;
        var extensions = new List<ExtensionRun>();
        var windowName = s.Models()[3].Name;
        for (int seed = 0; seed < s.Seeds; seed++)
        {
            var nope = trained.Model("NoPE", seed);
            foreach (var layer in s.ReplacementLayers)
            {
                var hook = PositionalVectorReplacement.Hook(nope.InWindow, layer, s.ReplacementRatio, s.ReplacementAlpha, s.AnchorTokens);
                extensions.Add(new ExtensionRun(FormattableString.Invariant($"NoPE + PV replacement ℓ={layer}"), nope.Name, seed,
                    FormattableString.Invariant($"layer {layer}, r = {s.ReplacementRatio:0.##}, α = {s.ReplacementAlpha:0.##}, first {s.AnchorTokens} kept"),
                    PerplexityEvaluator.Evaluate(nope.Model, evalSequences, c, s.EvalBatchSize, hook: hook)));
            }
            foreach (var scale in s.LogitScales.Where(l => l != 1.0))
            {
                using var scaling = AttentionWindowExtension.Apply(nope.Model, 1.0, scale);      // full attention: only λ acts
                extensions.Add(new ExtensionRun(FormattableString.Invariant($"NoPE + attention scaling λ={scale:0.##}"), nope.Name, seed,
                    FormattableString.Invariant($"logits × {scale:0.##}"),
                    PerplexityEvaluator.Evaluate(nope.Model, evalSequences, c, s.EvalBatchSize)));
            }
            var window = trained.Model(windowName, seed);
            foreach (var scale in s.LogitScales)
            {
                using var extension = AttentionWindowExtension.Apply(window.Model, s.WindowRatio, scale);
                int widened = (int)Math.Ceiling(s.WindowRatio * s.Window - 1e-9);
                extensions.Add(new ExtensionRun(FormattableString.Invariant($"{window.Name} + window ×{s.WindowRatio:0.##} λ={scale:0.##}"), window.Name, seed,
                    FormattableString.Invariant($"window {s.Window} → {widened}, logits × {scale:0.##}"),
                    PerplexityEvaluator.Evaluate(window.Model, evalSequences, c, s.EvalBatchSize)));
            }
        }
        return trained with { Extensions = extensions };
    }
}
