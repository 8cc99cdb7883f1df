using PathNotebooks.Models;
using PathNotebooks.Training;
using PathNotebooks.PositionalVectors;

namespace PathNotebooks.Experiments;

/// <summary>One trained language model of the experiment.</summary>
/// <param name="Name">"NoPE", "RoPE", "ALiBi" or "NoPE-windowW"</param>
/// <param name="Seed">the training seed index s (0 … Seeds−1) of this model</param>
/// <param name="Model">the trained model (eval mode)</param>
/// <param name="Curve">logged training losses</param>
/// <param name="TrainSeconds">wall time of training</param>
/// <param name="InWindow">positional vectors at length C <c>[L+1, C, D]</c></param>
/// <param name="Long">positional vectors at length EvalMultiple·C <c>[L+1, 4C, D]</c> (beyond the training window)</param>
/// <param name="Perplexity">loss per position out to EvalMultiple·C</param>
public sealed record PositionalLmRun(string Name, int Seed, CausalLM Model, List<TrainPoint> Curve, double TrainSeconds,
    PositionalDecomposition InWindow, PositionalDecomposition Long, PerplexityResult Perplexity);
