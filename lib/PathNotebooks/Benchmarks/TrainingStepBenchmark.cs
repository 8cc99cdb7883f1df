using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.DeltaNet;
using PathNotebooks.Experiments;
using PathNotebooks.Mixers;
using PathNotebooks.Models;
using PathNotebooks.PaTH;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Benchmarks;

/// <summary>
/// Milliseconds per training step (forward, backward, AdamW) of notebook 05's models on MQAR batches: each model at
/// the given settings with both optimiser layouts, the Gated DeltaNet model with its other chunk sizes and inversions, the
/// throughput of several runs training at once on one device, and which part of a step stops that throughput growing (what <see cref="HybridRecallSettings.ConcurrentRuns"/> does). Small
/// models are bound by kernel launches, not by the GPU's arithmetic, so these numbers say how long the notebook's
/// training takes and which settings shorten it. Measured here, never asserted in a test.
/// </summary>
public static class TrainingStepBenchmark
{
    /// <summary>What one timed step does.</summary>
    public enum Phase
    {
        /// <summary>Forward and loss only (gradients recorded, never used): the part of a step that runs on the calling thread.</summary>
        Forward,
        /// <summary>Forward, loss and backward; libtorch runs a CUDA backward on its one autograd thread per device, shared by all runs.</summary>
        ForwardBackward,
        /// <summary>The whole training step of <see cref="Trainer.Train"/>: forward, backward, clipping and AdamW.</summary>
        Step,
    }

    /// <summary>
    /// One row per configuration: model, GDN chunk size and inversion, optimiser layout, what a step does, concurrent runs K,
    /// ms per step of one run, and the effective ms per step with K runs sharing the device (wall time / (K · steps)).
    /// </summary>
    /// <param name="s">the experiment's sizes (widths, L, batch)</param>
    /// <param name="device">where to train</param>
    /// <param name="steps">timed steps per run, after <paramref name="warmup"/> untimed ones</param>
    /// <param name="warmup">untimed steps first (allocator, cuBLAS handles, kernel caches)</param>
    /// <param name="concurrency">the K values for the concurrency rows (GDN and attention models)</param>
    /// <param name="log">one line per row</param>
    public static DataFrame Run(HybridRecallSettings s, Device device, int steps = 30, int warmup = 5, IReadOnlyList<int>? concurrency = null,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(s);
        s.Validate();
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be ≥ 1.");
        concurrency ??= new[] { 4, 8 };
        var rows = new List<(string Model, int Chunk, string Inverse, string Optimizer, Phase Phase, int K, double MsPerStep, double EffectiveMs)>();
        void Add(string model, LayerPattern mixers, GatedDeltaNetSpec gdn, int k, bool flat, Phase phase = Phase.Step)
        {
            var (perStep, wall) = Time(s, mixers, device, steps, warmup, k, flat, phase);
            double effective = wall / (k * (double)steps);
            string optimizer = flat ? "flat" : "per-parameter";
            rows.Add((model, gdn.ChunkSize, gdn.Inverse.ToString(), optimizer, phase, k, perStep, effective));
            log?.Invoke($"{model,-10} C={gdn.ChunkSize,-4} {gdn.Inverse,-16} {optimizer,-13} {phase,-15} K={k,-2} {perStep,8:F2} ms/step per run   " +
                $"{effective,8:F2} ms/step effective");
        }
        var baseGdn = s.GatedDeltaNet;
        foreach (var (name, mixers) in s.Models) Add(name, mixers, baseGdn, 1, s.FlatOptimizer);
        foreach (var (name, mixers) in s.Models) Add(name, mixers, baseGdn, 1, !s.FlatOptimizer);
        // The other forms of the GDN layer: chunks of L/2 and L, blocked (Auto on CUDA) or single triangular solve.
        int half = Math.Max(1, s.TrainLength / 2);
        var forms = new[] { (half, UnitLowerInverse.Auto), (half, UnitLowerInverse.TriangularSolve), (s.TrainLength, UnitLowerInverse.Auto),
            (s.TrainLength, UnitLowerInverse.TriangularSolve) };
        foreach (var (chunk, inverse) in forms.Where(f => f != (baseGdn.ChunkSize, baseGdn.Inverse)))
        {
            var spec = baseGdn with { ChunkSize = chunk, Inverse = inverse };
            Add("GDN", spec, spec, 1, s.FlatOptimizer);
        }
        foreach (int k in concurrency)
        {
            foreach (bool flat in new[] { false, true })
            {
                Add("GDN", baseGdn, baseGdn, k, flat);
                Add("Attention", s.Models[^1].Mixers, baseGdn, k, flat);
            }
        }
        // Where a concurrent step's time goes: if forward scales with K and forward+backward does not, backward's shared
        // autograd thread is the limit.
        foreach (int k in new[] { 1, concurrency.Max() })
            foreach (var phase in new[] { Phase.Forward, Phase.ForwardBackward })
                Add("GDN", baseGdn, baseGdn, k, s.FlatOptimizer, phase);
        return new DataFrame(
            new StringDataFrameColumn("model", rows.Select(r => r.Model)),
            new PrimitiveDataFrameColumn<int>("gdn chunk", rows.Select(r => r.Chunk)),
            new StringDataFrameColumn("gdn inverse", rows.Select(r => r.Inverse)),
            new StringDataFrameColumn("optimizer", rows.Select(r => r.Optimizer)),
            new StringDataFrameColumn("timed", rows.Select(r => r.Phase switch
                { Phase.Forward => "forward", Phase.ForwardBackward => "forward+backward", _ => "step" })),
            new PrimitiveDataFrameColumn<int>("concurrent runs", rows.Select(r => r.K)),
            new DoubleDataFrameColumn("ms/step per run", rows.Select(r => Math.Round(r.MsPerStep, 2))),
            new DoubleDataFrameColumn("effective ms/step", rows.Select(r => Math.Round(r.EffectiveMs, 2))));
    }

    /// <summary>K runs of one model training at once: the mean ms/step of one run and the wall time of all timed steps.</summary>
    static (double PerStep, double WallMs) Time(HybridRecallSettings s, LayerPattern mixers, Device device, int steps, int warmup, int k,
        bool flat, Phase phase)
    {
        var task = HybridRecallExperiment.Mqar(s);
        var config = HybridRecallExperiment.Config(mixers, task.VocabSize, s);
        var models = new List<CausalLM>();
        for (int i = 0; i < k; i++) models.Add(CausalLM.Seeded(config, 1000 + i, device));
        try
        {
            var perRun = new double[k];
            using var start = new Barrier(k);
            var wall = Stopwatch.StartNew();
            void One(int i)
            {
                var data = new Generator((ulong)(2000 + i));
                Batch Next(int step) => task.Generate(s.BatchSize, s.TrainLength, s.TrainPairsMax, s.TrainPairsMax, data, device);
                void Steps(int count)
                {
                    if (phase == Phase.Step)
                    {
                        Trainer.Train(models[i], Next, new TrainOptions { Steps = count, LearningRate = s.LearningRate, LogEvery = count, FlatOptimizer = flat });
                        return;
                    }
                    models[i].train();
                    for (int step = 0; step < count; step++)
                    {
                        using var scope = NewDisposeScope();
                        using var batch = Next(step);
                        var loss = Trainer.MaskedCrossEntropy(models[i].forward(batch.Inputs), batch.Targets, batch.LossMask);
                        if (phase == Phase.ForwardBackward) loss.backward();
                    }
                    models[i].zero_grad();
                }
                Steps(warmup);
                AttentionBenchmark.Sync(device);
                start.SignalAndWait();
                if (i == 0) wall.Restart();
                var clock = Stopwatch.StartNew();
                Steps(steps);
                AttentionBenchmark.Sync(device);
                perRun[i] = clock.Elapsed.TotalMilliseconds / steps;
            }
            if (k == 1) One(0);
            else Parallel.For(0, k, new ParallelOptions { MaxDegreeOfParallelism = k }, One);
            return (perRun.Average(), wall.Elapsed.TotalMilliseconds);
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }
}
