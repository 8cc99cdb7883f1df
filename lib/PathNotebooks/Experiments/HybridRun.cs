using PathNotebooks.Models;
using PathNotebooks.Training;

namespace PathNotebooks.Experiments;

/// <summary>One trained model of notebook 05's recall experiment.</summary>
/// <param name="Task">"MQAR" or "S-NIAH" (the needle model is trained on S1, S2 and S3 in turn)</param>
/// <param name="Name">"GDN", "GDN+SWA", "GDN+NSA", "Attention"</param>
/// <param name="Seed">seed index of the run (0, 1, …)</param>
/// <param name="Config">the model's configuration (its layer pattern says which mixer each layer uses)</param>
/// <param name="Model">the trained model; kept for seed 0 only (null for the others, which are disposed after evaluation)</param>
/// <param name="Parameters">trainable parameters</param>
/// <param name="Curve">training loss on the answer positions, logged every few steps</param>
/// <param name="TrainSeconds">wall-clock training time (varies between runs)</param>
public sealed record HybridRun(string Task, string Name, int Seed, ModelConfig Config, CausalLM? Model, long Parameters,
    List<TrainPoint> Curve, double TrainSeconds);
