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
        var optimizer = optim.AdamW(model.parameters(), options.LearningRate, options.Beta1, options.Beta2, weight_decay: options.WeightDecay);
        var history = new List<TrainPoint>();
        var clock = Stopwatch.StartNew();
        double sum = 0; int count = 0;
        for (int step = 0; step < options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            foreach (var group in optimizer.ParamGroups) group.LearningRate = options.LearningRateAt(step);
            using var batch = nextBatch(step);
            optimizer.zero_grad();
            var loss = MaskedCrossEntropy(model.forward(batch.Inputs), batch.Targets, batch.LossMask);
            var auxiliary = model.TakeAuxiliaryLoss();                     // e.g. LTE's sparsity loss; the log shows the task loss
            (auxiliary is null ? loss : loss + auxiliary).backward();
            if (options.ClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), options.ClipNorm);
            optimizer.step();
            sum += loss.item<float>(); count++;
            if ((step + 1) % options.LogEvery == 0 || step == options.Steps - 1)
            {
                var point = new TrainPoint(step + 1, sum / count, clock.Elapsed.TotalSeconds);
                history.Add(point);
                onLog?.Invoke(point);
                sum = 0; count = 0;
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
