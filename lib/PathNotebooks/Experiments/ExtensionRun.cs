using PathNotebooks.PositionalVectors;

namespace PathNotebooks.Experiments;

/// <summary>A training-free extension applied to one of the trained models.</summary>
/// <param name="Name">row label, e.g. "NoPE + PV replacement ℓ=1"</param>
/// <param name="BaseModel">the <see cref="PositionalLmRun.Name"/> it modifies</param>
/// <param name="Seed">the training seed index of the model it modifies</param>
/// <param name="Setting">its parameters in words</param>
/// <param name="Perplexity">loss per position out to EvalMultiple·C with the extension applied</param>
public sealed record ExtensionRun(string Name, string BaseModel, int Seed, string Setting, PerplexityResult Perplexity);
