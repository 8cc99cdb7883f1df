using Microsoft.Data.Analysis;
using static TorchSharp.torch;

namespace PathNotebooks.Experiments;

/// <summary>Everything <see cref="PositionalVectorsExperiment.Run"/> measured.</summary>
/// <param name="Settings">the settings of the run</param>
/// <param name="Models">the trained models, seed by seed, each seed in the order NoPE, RoPE, ALiBi, window NoPE</param>
/// <param name="Extensions">the extension runs (replacement layers, attention scalings, window extensions), seed by seed</param>
/// <param name="EvalSequences">validation sequences <c>[N, EvalMultiple·C + 1]</c> (int64) used for perplexity and the long positional vectors</param>
public sealed record PositionalVectorsResult(PositionalVectorsSettings Settings, IReadOnlyList<PositionalLmRun> Models,
    IReadOnlyList<ExtensionRun> Extensions, Tensor EvalSequences)
{
    /// <summary>The model <paramref name="name"/> trained with seed index <paramref name="seed"/> (default 0, the one the analyses use).</summary>
    /// <param name="name">"NoPE", "RoPE", "ALiBi" or "NoPE-windowW"</param>
    /// <param name="seed">seed index 0 … Seeds−1</param>
    public PositionalLmRun Model(string name, int seed = 0) => Models.FirstOrDefault(m => m.Name == name && m.Seed == seed)
        ?? throw new ArgumentException($"no model named '{name}' with seed {seed} (have {string.Join(", ", Models.Select(m => $"{m.Name}/{m.Seed}"))}).", nameof(name));

    /// <summary>The four models of seed 0, in the order NoPE, RoPE, ALiBi, window NoPE (the analyses' models).</summary>
    public IReadOnlyList<PositionalLmRun> FirstSeed => Models.Where(m => m.Seed == 0).ToList();

    /// <summary>The perplexity bands of the tables: [0, C), [C, 2C), [2C, EvalMultiple·C), with their column names.</summary>
    public IReadOnlyList<(string Column, int Start, int End)> Bands
    {
        get
        {
            int c = Settings.TrainLength, m = Settings.EvalMultiple;
            return new[] { ("ppl_0_C", 0, c), ("ppl_C_2C", c, 2 * c), ($"ppl_2C_{m}C", 2 * c, m * c) };
        }
    }

    IEnumerable<(string Model, string Base, string Setting, int Seed, PositionalVectors.PerplexityResult Ppl, double Loss)> Rows() =>
        Models.Select(m => (m.Name, m.Name, "trained at C", m.Seed, m.Perplexity, m.Curve[^1].Loss))
            .Concat(Extensions.Select(e => (e.Name, e.BaseModel, e.Setting, e.Seed, e.Perplexity, double.NaN)));

    /// <summary>
    /// One row per model and per extension and per seed: perplexity per band (exp of the mean loss over the positions
    /// of the band: [0, C), [C, 2C), [2C, 4C) with 4 = EvalMultiple), final training loss (NaN for extensions) and
    /// parameters in words. Columns: model, base_model, setting, seed, ppl_0_C, ppl_C_2C, ppl_2C_4C, train_loss.
    /// </summary>
    public DataFrame Table()
    {
        var rows = Rows().OrderBy(r => r.Seed).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", rows.Select(r => r.Model)),
            new StringDataFrameColumn("base_model", rows.Select(r => r.Base)),
            new StringDataFrameColumn("setting", rows.Select(r => r.Setting)),
            new Int32DataFrameColumn("seed", rows.Select(r => r.Seed)),
        };
        foreach (var (column, start, end) in Bands)
            columns.Add(new DoubleDataFrameColumn(column, rows.Select(r => Math.Round(r.Ppl.PplBand(start, end), 4))));
        columns.Add(new DoubleDataFrameColumn("train_loss", rows.Select(r => Math.Round(r.Loss, 4))));
        return new DataFrame(columns);
    }

    /// <summary>
    /// The table's rows summarised over seeds, one row per model and per extension: for each band the mean of the
    /// per-seed perplexities and their min and max (the spread is min–max over seeds), and the mean final training loss.
    /// Columns: model, base_model, setting, seeds, then per band BAND_mean, BAND_min, BAND_max, then train_loss_mean.
    /// </summary>
    public DataFrame Summary()
    {
        var groups = Rows().GroupBy(r => r.Model).ToList();                    // first-appearance order: models, then extensions
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", groups.Select(g => g.Key)),
            new StringDataFrameColumn("base_model", groups.Select(g => g.First().Base)),
            new StringDataFrameColumn("setting", groups.Select(g => g.First().Setting)),
            new Int32DataFrameColumn("seeds", groups.Select(g => g.Count())),
        };
        foreach (var (column, start, end) in Bands)
        {
            var values = groups.Select(g => g.Select(r => r.Ppl.PplBand(start, end)).ToList()).ToList();
            columns.Add(new DoubleDataFrameColumn(column + "_mean", values.Select(v => Math.Round(v.Average(), 4))));
            columns.Add(new DoubleDataFrameColumn(column + "_min", values.Select(v => Math.Round(v.Min(), 4))));
            columns.Add(new DoubleDataFrameColumn(column + "_max", values.Select(v => Math.Round(v.Max(), 4))));
        }
        columns.Add(new DoubleDataFrameColumn("train_loss_mean", groups.Select(g => Math.Round(g.Average(r => r.Loss), 4))));
        return new DataFrame(columns);
    }
}
