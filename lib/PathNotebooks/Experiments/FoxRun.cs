using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>One trained model of the experiment and its loss at every position of the evaluation windows.</summary>
/// <param name="Encoding">the model's position encoding</param>
/// <param name="Model">the trained model</param>
/// <param name="Parameters">number of trainable parameters</param>
/// <param name="Curve">training loss, logged every few steps</param>
/// <param name="LossByPosition">mean cross-entropy (nats) of the prediction made after seeing i + 1 tokens, i = 0 … EvalLength − 1</param>
/// <param name="TrainSeconds">wall-clock training time (varies between runs)</param>
public sealed record FoxRun(PositionEncoding Encoding, CausalLM Model, long Parameters, List<TrainPoint> Curve,
    double[] LossByPosition, double TrainSeconds);
