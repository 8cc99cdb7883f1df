using PathNotebooks.Models;
using PathNotebooks.Training;
using static TorchSharp.torch;

namespace PathNotebooks.Tasks;

/// <summary>
/// How well a model answers the scored positions of a batch (the loss mask): the fraction of answer tokens whose argmax
/// prediction is right, and the fraction of sequences whose answer tokens are all right (exact match).
/// </summary>
/// <remarks>Scoring with one teacher-forced forward pass is exact for greedy decoding: a causal model greedily decodes
/// the whole answer correctly iff each answer token is the argmax given the true prefix, because until the first
/// mistake the greedy prefix is the true prefix.</remarks>
/// <param name="TokenAccuracy">answer tokens right / answer tokens</param>
/// <param name="ExactMatch">sequences with every answer token right / sequences</param>
public sealed record RecallScore(double TokenAccuracy, double ExactMatch)
{
    /// <summary>Scores <paramref name="model"/> on <paramref name="batch"/> (which needs a loss mask), without gradients.</summary>
    public static RecallScore Of(CausalLM model, Batch batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        var mask = batch.LossMask ?? throw new ArgumentException("batch needs a loss mask (the answer positions).", nameof(batch));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var right = model.forward(batch.Inputs).argmax(-1).eq(batch.Targets);      // [B, T]
        var scored = mask.sum(1);                                                  // [B]
        if (scored.eq(0).any().item<bool>()) throw new ArgumentException("every sequence of the batch must have at least one answer position.", nameof(batch));
        var rightAnswers = right.logical_and(mask).sum(1);                         // [B]
        double tokens = rightAnswers.sum().to(ScalarType.Float64).item<double>() / scored.sum().to(ScalarType.Float64).item<double>();
        double exact = rightAnswers.eq(scored).to(ScalarType.Float64).mean().item<double>();
        return new RecallScore(tokens, exact);
    }

    /// <summary>The mean of several scores (e.g. over evaluation batches of equal size).</summary>
    public static RecallScore Mean(IReadOnlyCollection<RecallScore> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0) throw new ArgumentException("scores must not be empty.", nameof(scores));
        return new RecallScore(scores.Average(s => s.TokenAccuracy), scores.Average(s => s.ExactMatch));
    }
}
