using System.Diagnostics;
using PathNotebooks.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Training;

/// <summary>The training loop every notebook uses (one place for the optimiser, schedule and loss).</summary>
public static class Trainer
{
    /// <summary>
    /// Trains <paramref name="model"/> for <see cref="TrainOptions.Steps"/> steps on batches from <paramref name="nextBatch"/>(step),
    /// which must already be on the model's device. The loss is the masked cross-entropy plus any auxiliary loss the mixers produce
    /// (<see cref="CausalLM.TakeAuxiliaryLoss"/>); the log records the cross-entropy alone (mean over each logging interval).
    /// </summary>
    public static List<TrainPoint> Train(CausalLM model, Func<int, Batch> nextBatch, TrainOptions options, Action<TrainPoint>? onLog = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(nextBatch);
        if (options.Steps <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, "Steps must be ≥ 1.");
        model.train();
        using var perParameter = options.FlatOptimizer ? null
            : optim.AdamW(model.parameters(), options.LearningRate, options.Beta1, options.Beta2, weight_decay: options.WeightDecay);
        using var flat = options.FlatOptimizer
            ? new FlatAdamW(model.parameters(), options.Beta1, options.Beta2, weightDecay: options.WeightDecay) : null;
        var history = new List<TrainPoint>();
        var clock = Stopwatch.StartNew();
        // The interval's loss sum stays on the device (float64, the same additions as on the host), so a step does not
        // wait for the GPU unless the optimiser does.
        using var sum = zeros(1, ScalarType.Float64, model.parameters().First().device);
        int count = 0;
        for (int step = 0; step < options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            double learningRate = options.LearningRateAt(step);
            using var batch = nextBatch(step);
            if (flat is not null) flat.ZeroGrad(); else perParameter!.zero_grad();
            var loss = MaskedCrossEntropy(model.forward(batch.Inputs), batch.Targets, batch.LossMask);
            var auxiliary = model.TakeAuxiliaryLoss();                     // e.g. LTE's sparsity loss; the log shows the task loss
            (auxiliary is null ? loss : loss + auxiliary).backward();
            if (flat is not null)
            {
                if (options.ClipNorm > 0) flat.ClipGradNorm(options.ClipNorm);
                flat.Step(learningRate);
            }
            else
            {
                foreach (var group in perParameter!.ParamGroups) group.LearningRate = learningRate;
                if (options.ClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), options.ClipNorm);
                perParameter.step();
            }
            using (no_grad()) sum.add_(loss.detach().to(ScalarType.Float64));
            count++;
            if ((step + 1) % options.LogEvery == 0 || step == options.Steps - 1)
            {
                var point = new TrainPoint(step + 1, sum.item<double>() / count, clock.Elapsed.TotalSeconds);
                history.Add(point);
                onLog?.Invoke(point);
                sum.zero_(); count = 0;
            }
        }
        model.eval();
        return history;
    }

    /// <summary>Mean cross-entropy over the positions where <paramref name="mask"/> is true (all when null).</summary>
    /// <param name="logits"><c>[B, T, V]</c></param>
    /// <param name="targets"><c>[B, T]</c> int64</param>
    /// <param name="mask"><c>[B, T]</c> bool, or null</param>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor targets, Tensor? mask)
    {
        Shapes.Rank(logits, 3, nameof(logits), "[B, T, V]");
        Shapes.Exactly(targets, nameof(targets), "[B, T]", logits.shape[0], logits.shape[1]);
        using var scope = NewDisposeScope();
        var perToken = F.cross_entropy(logits.flatten(0, 1).to(ScalarType.Float32), targets.flatten(), reduction: nn.Reduction.None)
            .view(targets.shape);
        if (mask is null) return perToken.mean().MoveToOuterDisposeScope();
        Shapes.Exactly(mask, nameof(mask), "[B, T]", targets.shape[0], targets.shape[1]);
        var m = mask.to(ScalarType.Float32);
        return ((perToken * m).sum() / m.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Per-token cross-entropy <c>[B, T]</c> without gradients (for evaluation curves).</summary>
    public static Tensor PerTokenLoss(CausalLM model, Tensor inputs, Tensor targets)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.forward(inputs);
        return F.cross_entropy(logits.flatten(0, 1).to(ScalarType.Float32), targets.flatten(), reduction: nn.Reduction.None)
            .view(targets.shape).MoveToOuterDisposeScope();
    }
}
