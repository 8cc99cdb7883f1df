using Microsoft.Data.Analysis;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

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
