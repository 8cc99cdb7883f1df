using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Data;
using PathNotebooks.Experiments;
using PathNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PathNotebooks.PositionalVectors;

/// <summary>Settings of the positional-vector experiment (notebook 02, Dong et al. 2024).</summary>
public sealed record PositionalVectorsSettings
{
    /// <summary>Training context length C (byte tokens).</summary>
    public int TrainLength { get; init; } = 32;
    /// <summary>Evaluation goes out to this multiple of C (perplexity and positional vectors beyond the window).</summary>
    public int EvalMultiple { get; init; } = 4;
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 3;
    public int Heads { get; init; } = 2;
    /// <summary>Sliding window W of the window-attention NoPE model.</summary>
    public int Window { get; init; } = 8;
    public int Steps { get; init; } = 500;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Training-split sequences of length C averaged for the positional vectors p[l, t] (the validation split is too small for the full size).</summary>
    public int DecompositionSequences { get; init; } = 256;
    /// <summary>Validation sequences of length EvalMultiple·C (perplexity, and positional vectors beyond C).</summary>
    public int EvalSequences { get; init; } = 64;
    /// <summary>Sequences per forward pass at evaluation (positional-vector replacement estimates p from this batch).</summary>
    public int EvalBatchSize { get; init; } = 16;
    /// <summary>First tokens treated as anchors: kept by the replacement, removed in the sink ablation.</summary>
    public int AnchorTokens { get; init; } = 4;
    /// <summary>Layers ℓ at which positional-vector replacement is tried (0 = embeddings; the paper's best: ℓ = 4 of 22).</summary>
    public int[] ReplacementLayers { get; init; } = { 1, 2 };
    /// <summary>Interpolation ratio r of the replacement (r·C positions covered).</summary>
    public double ReplacementRatio { get; init; } = 4;
    /// <summary>Scale α of the inserted positional vectors.</summary>
    public double ReplacementAlpha { get; init; } = 1.0;
    /// <summary>Window multiplier r of the attention-window extension.</summary>
    public double WindowRatio { get; init; } = 4;
    /// <summary>Logit scales λ tried with the window extension (and, λ ≠ 1, as attention scaling for full-attention NoPE).</summary>
    public double[] LogitScales { get; init; } = { 1.0, 1.2, 1.5 };
    public int Seed { get; init; } = 0;

    /// <summary>Four models in about a minute on a 2-core CPU: C = 32, 3 layers, d = 64, W = 8, 500 steps of 16 × 32 tokens.</summary>
    public static PositionalVectorsSettings Tiny => new();

    /// <summary>The GPU experiment: C = 256, 4 layers, d = 256, 8 heads, W = 64, 1 000 steps of 32 × 256 tokens. Not yet timed on a
    /// GPU: a first H100 run with 6 layers and 2 000 steps did not finish within 265 s, so this is that run halved.</summary>
    public static PositionalVectorsSettings Full => new()
    {
        TrainLength = 256, DModel = 256, Layers = 4, Heads = 8, Window = 64, Steps = 1000, BatchSize = 32, LearningRate = 1e-3,
        DecompositionSequences = 1024, EvalSequences = 128, EvalBatchSize = 32, ReplacementLayers = new[] { 1, 2, 3 },
    };

    /// <summary>The model configurations trained: NoPE, RoPE, ALiBi and window-attention NoPE (W = <see cref="Window"/>).</summary>
    public IReadOnlyList<(string Name, ModelConfig Config)> Models()
    {
        var baseConfig = new ModelConfig { VocabSize = TextCorpus.VocabSize, DModel = DModel, Layers = Layers, Heads = Heads };
        return new[]
        {
            ("NoPE", baseConfig with { Encoding = PositionEncoding.NoPE }),
            ("RoPE", baseConfig with { Encoding = PositionEncoding.RoPE }),
            ("ALiBi", baseConfig with { Encoding = PositionEncoding.ALiBi }),
            ($"NoPE-window{Window}", baseConfig with { Encoding = PositionEncoding.NoPE, Window = Window }),
        };
    }

    /// <summary>Checks the numbers fit together; throws naming the field.</summary>
    public PositionalVectorsSettings Validate()
    {
        if (TrainLength < 2) throw new ArgumentOutOfRangeException(nameof(TrainLength), TrainLength, "TrainLength must be ≥ 2.");
        if (EvalMultiple < 2) throw new ArgumentOutOfRangeException(nameof(EvalMultiple), EvalMultiple, "EvalMultiple must be ≥ 2 (evaluation goes beyond C).");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be ≥ 1.");
        if (Window < 1 || Window >= TrainLength) throw new ArgumentOutOfRangeException(nameof(Window), Window, $"Window must be in 1…C−1 = {TrainLength - 1}.");
        if (AnchorTokens < 1 || AnchorTokens >= TrainLength) throw new ArgumentOutOfRangeException(nameof(AnchorTokens), AnchorTokens, "AnchorTokens must be in 1…C−1.");
        if (EvalBatchSize < 2) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, "EvalBatchSize must be ≥ 2 (replacement estimates p from the batch).");
        if (ReplacementLayers.Any(l => l < 0 || l > Layers)) throw new ArgumentOutOfRangeException(nameof(ReplacementLayers), string.Join(",", ReplacementLayers), $"ReplacementLayers must be in 0…{Layers}.");
        if (LogitScales.Length == 0 || LogitScales.Any(l => !(l > 0))) throw new ArgumentOutOfRangeException(nameof(LogitScales), string.Join(",", LogitScales), "LogitScales must be positive numbers (at least one).");
        return this;
    }
}

/// <summary>One trained language model of the experiment.</summary>
/// <param name="Name">"NoPE", "RoPE", "ALiBi" or "NoPE-windowW"</param>
/// <param name="Model">the trained model (eval mode)</param>
/// <param name="Curve">logged training losses</param>
/// <param name="TrainSeconds">wall time of training</param>
/// <param name="InWindow">positional vectors at length C <c>[L+1, C, D]</c></param>
/// <param name="Long">positional vectors at length EvalMultiple·C <c>[L+1, 4C, D]</c> (beyond the training window)</param>
/// <param name="Perplexity">loss per position out to EvalMultiple·C</param>
public sealed record PositionalLmRun(string Name, CausalLM Model, List<TrainPoint> Curve, double TrainSeconds,
    PositionalDecomposition InWindow, PositionalDecomposition Long, PerplexityResult Perplexity);

/// <summary>A training-free extension applied to one of the trained models.</summary>
/// <param name="Name">row label, e.g. "NoPE + PV replacement ℓ=1"</param>
/// <param name="BaseModel">the <see cref="PositionalLmRun.Name"/> it modifies</param>
/// <param name="Setting">its parameters in words</param>
/// <param name="Perplexity">loss per position out to EvalMultiple·C with the extension applied</param>
public sealed record ExtensionRun(string Name, string BaseModel, string Setting, PerplexityResult Perplexity);

/// <summary>Everything <see cref="PositionalVectorsExperiment.Run"/> measured.</summary>
/// <param name="Settings">the settings of the run</param>
/// <param name="Models">the four trained models, in the order NoPE, RoPE, ALiBi, window NoPE</param>
/// <param name="Extensions">the extension runs (replacement layers, attention scalings, window extensions)</param>
/// <param name="EvalSequences">validation sequences <c>[N, EvalMultiple·C + 1]</c> (int64) used for perplexity and the long positional vectors</param>
public sealed record PositionalVectorsResult(PositionalVectorsSettings Settings, IReadOnlyList<PositionalLmRun> Models,
    IReadOnlyList<ExtensionRun> Extensions, Tensor EvalSequences)
{
    public PositionalLmRun Model(string name) => Models.FirstOrDefault(m => m.Name == name)
        ?? throw new ArgumentException($"no model named '{name}' (have {string.Join(", ", Models.Select(m => m.Name))}).", nameof(name));

    /// <summary>
    /// One row per model and per extension: perplexity at C, 2C, 4C (4 = EvalMultiple), final training loss
    /// (NaN for extensions) and parameters in words. Columns: model, base_model, setting, ppl_C, ppl_2C, ppl_4C, train_loss.
    /// </summary>
    public DataFrame Table()
    {
        var rows = Models.Select(m => (m.Name, m.Name, "trained at C", m.Perplexity, m.Curve[^1].Loss))
            .Concat(Extensions.Select(e => (e.Name, e.BaseModel, e.Setting, e.Perplexity, double.NaN))).ToList();
        int c = Settings.TrainLength, last = Settings.EvalMultiple * c;
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(r => r.Item1)),
            new StringDataFrameColumn("base_model", rows.Select(r => r.Item2)),
            new StringDataFrameColumn("setting", rows.Select(r => r.Item3)),
            new DoubleDataFrameColumn("ppl_C", rows.Select(r => Math.Round(r.Item4.PplAt(c), 4))),
            new DoubleDataFrameColumn("ppl_2C", rows.Select(r => Math.Round(r.Item4.PplAt(2 * c), 4))),
            new DoubleDataFrameColumn($"ppl_{Settings.EvalMultiple}C", rows.Select(r => Math.Round(r.Item4.PplAt(last), 4))),
            new DoubleDataFrameColumn("train_loss", rows.Select(r => Math.Round(r.Item5, 4))));
    }
}

/// <summary>
/// Notebook 02's experiment: trains four byte-level LMs at context C on the shipped corpus (NoPE, RoPE, ALiBi,
/// window NoPE), measures their positional vectors at C and at EvalMultiple·C, their perplexity by position out
/// to EvalMultiple·C, and the two training-free extensions of the paper (positional-vector replacement for NoPE,
/// attention-window extension for window NoPE) plus the attention-scaling baseline for NoPE.
/// </summary>
public static class PositionalVectorsExperiment
{
    /// <param name="settings">sizes and extension parameters (<see cref="PositionalVectorsSettings.Tiny"/> or <see cref="PositionalVectorsSettings.Full"/>)</param>
    /// <param name="corpus">default: the shipped corpus (<see cref="TextCorpus.Load"/>)</param>
    /// <param name="onLog">called with (model name, training point) while training</param>
    public static PositionalVectorsResult Run(PositionalVectorsSettings settings, TextCorpus? corpus = null, Action<string, TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var s = settings.Validate();
        corpus ??= TextCorpus.Load();
        var device = Runtime.TorchRuntime.Device;
        int c = s.TrainLength, longLength = s.EvalMultiple * c;
        // Fixed validation windows: [N, 4C + 1] for perplexity (inputs :4C, targets 1:), [M, C] and [N, 4C] for p.
        var evalSequences = corpus.Sequences(CorpusSplit.Validation, s.EvalSequences, longLength + 1).DetachFromDisposeScope();
        var shortSequences = corpus.Sequences(CorpusSplit.Train, s.DecompositionSequences, c).DetachFromDisposeScope();

        var runs = new List<PositionalLmRun>();
        var models = s.Models();
        for (int i = 0; i < models.Count; i++)
        {
            var (name, config) = models[i];
            var model = CausalLM.Seeded(config, s.Seed + i);
            var sampler = corpus.Sampler(CorpusSplit.Train, s.BatchSize, c, s.Seed + 100 + i, device);
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
