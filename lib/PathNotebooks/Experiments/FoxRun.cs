using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>One trained model of the experiment (one variant, one seed) and its loss at every position of the evaluation windows.</summary>
/// <param name="Variant">the model: position encoding (and FoX's gate scaling)</param>
/// <param name="Seed">seed index s: model initialisation index s, training-window stream index s</param>
/// <param name="Model">the trained model</param>
/// <param name="Parameters">number of trainable parameters</param>
/// <param name="Curve">training loss, logged every few steps</param>
/// <param name="LossByPosition">mean cross-entropy (nats) of the prediction made after seeing i + 1 tokens, i = 0 … EvalLength − 1</param>
/// <param name="TrainSeconds">wall-clock training time (varies between runs)</param>
public sealed record FoxRun(FoxVariant Variant, int Seed, CausalLM Model, long Parameters, List<TrainPoint> Curve,
    double[] LossByPosition, double TrainSeconds)
{
    /// <summary>The model's position encoding.</summary>
    public PositionEncoding Encoding => Variant.Encoding;

    /// <summary>The model's label ("FoX (gate/√d)" for the gate-scaled FoX).</summary>
    public string Name => Variant.Name;
}
