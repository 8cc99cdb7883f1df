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
    /// <param name="run">device and seeds of this run</param>
    /// <param name="settings">sizes and extension parameters (<see cref="PositionalVectorsSettings.Tiny"/> or <see cref="PositionalVectorsSettings.Full"/>)</param>
    /// <param name="corpus">default: the shipped corpus (<see cref="TextCorpus.Load"/>)</param>
    /// <param name="onLog">called with (model name, training point) while training</param>
    public static PositionalVectorsResult Run(RunContext run, PositionalVectorsSettings settings, TextCorpus? corpus = null, Action<string, TrainPoint>? onLog = null)
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
        for (int i = 0; i < models.Count; i++)
        {
            var (name, config) = models[i];
            var model = run.NewModel(config, i);
            var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, c, run.SeedFor(SeedStream.CorpusWindows, i), device);
            var clock = Stopwatch.StartNew();
            var curve = Trainer.Train(model, sampler,
                new TrainOptions { Steps = s.Steps, LearningRate = s.LearningRate, LogEvery = Math.Max(1, s.Steps / 25) },
                onLog is null ? null : p => onLog(name, p));
            double seconds = clock.Elapsed.TotalSeconds;
            model.eval();
            var inWindow = PositionalVectorExtractor.Collect(model, shortSequences, s.EvalBatchSize);
            var longVectors = PositionalVectorExtractor.Collect(model, evalSequences[.., ..longLength], s.EvalBatchSize);
            var perplexity = PerplexityEvaluator.Evaluate(model, evalSequences, c, s.EvalBatchSize);
            runs.Add(new PositionalLmRun(name, model, curve, seconds, inWindow, longVectors, perplexity));
        }

        var extensions = new List<ExtensionRun>();
        var nope = runs[0];
        foreach (var layer in s.ReplacementLayers)
        {
            var hook = PositionalVectorReplacement.Hook(nope.InWindow, layer, s.ReplacementRatio, s.ReplacementAlpha, s.AnchorTokens);
            extensions.Add(new ExtensionRun(FormattableString.Invariant($"NoPE + PV replacement ℓ={layer}"), nope.Name,
                FormattableString.Invariant($"layer {layer}, r = {s.ReplacementRatio:0.##}, α = {s.ReplacementAlpha:0.##}, first {s.AnchorTokens} kept"),
                PerplexityEvaluator.Evaluate(nope.Model, evalSequences, c, s.EvalBatchSize, hook: hook)));
        }
        foreach (var scale in s.LogitScales.Where(l => l != 1.0))
        {
            using var scaling = AttentionWindowExtension.Apply(nope.Model, 1.0, scale);      // full attention: only λ acts
            extensions.Add(new ExtensionRun(FormattableString.Invariant($"NoPE + attention scaling λ={scale:0.##}"), nope.Name, FormattableString.Invariant($"logits × {scale:0.##}"),
                PerplexityEvaluator.Evaluate(nope.Model, evalSequences, c, s.EvalBatchSize)));
        }
        var window = runs[3];
        foreach (var scale in s.LogitScales)
        {
            using var extension = AttentionWindowExtension.Apply(window.Model, s.WindowRatio, scale);
            int widened = (int)Math.Ceiling(s.WindowRatio * s.Window - 1e-9);
            extensions.Add(new ExtensionRun(FormattableString.Invariant($"{window.Name} + window ×{s.WindowRatio:0.##} λ={scale:0.##}"), window.Name,
                FormattableString.Invariant($"window {s.Window} → {widened}, logits × {scale:0.##}"),
                PerplexityEvaluator.Evaluate(window.Model, evalSequences, c, s.EvalBatchSize)));
        }
        return new PositionalVectorsResult(s, runs, extensions, evalSequences);
    }
}
