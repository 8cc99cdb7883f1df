using PathNotebooks.DeltaNet;
using PathNotebooks.Mixers;
using PathNotebooks.PaTH;
using PathNotebooks.Softmax;
using PathNotebooks.Sparse;

namespace PathNotebooks.Experiments;

/// <summary>
/// Settings of notebook 05's recall experiment: small models of the same width — pure Gated DeltaNet, GDN with sliding
/// window attention at the odd layers, GDN with NSA-style sparse attention at the odd layers, and full softmax attention —
/// trained on MQAR and on single-needle retrieval at length L, then evaluated at L … 4L and with more key-value pairs.
/// </summary>
/// <remarks>
/// The LTE paper's laNSA uses blocks of 64 tokens, 16 selected blocks and a window of 512 at a training length of 4 096;
/// its GDN+SWA a window of 1 024 at the same length. Both sizes here keep those ratios to their L: the NSA window is
/// L/8, and the SWA window is L/4. NSA's selection always includes the current, the previous and the first block, so
/// n must exceed 3 for any block to be chosen by content: n = 6 blocks of L/16 (three chosen by content; 3L/8 tokens).
/// </remarks>
public sealed record HybridRecallSettings : IExperimentSettings<HybridRecallSettings>
{
    /// <summary>Hidden width of every model.</summary>
    public int DModel { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 2;
    /// <summary>Training length L.</summary>
    public int TrainLength { get; init; } = 64;
    /// <summary>Evaluation lengths as multiples of L (1, 2, 4 = L, 2L, 4L).</summary>
    public int[] EvalMultiples { get; init; } = { 1, 2, 4 };
    public int BatchSize { get; init; } = 16;
    public int MqarSteps { get; init; } = 100;
    public int NeedleSteps { get; init; } = 100;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Sequences per evaluation cell (model × length × pairs or depth).</summary>
    public int EvalSequences { get; init; } = 32;
    /// <summary>Sequences per evaluation forward pass.</summary>
    public int EvalBatch { get; init; } = 32;
    /// <summary>Training runs per model, each with its own initial weights and data order (seed index 0, 1, …).</summary>
    public int Seeds { get; init; } = 1;
    /// <summary>How many training runs (seed × model × task) run at once, each on its own thread; 1 runs them in order on
    /// the caller's thread. Same numbers either way on the CPU (a GPU's own run-to-run differences aside).</summary>
    public int ConcurrentRuns { get; init; } = 1;
    /// <summary>Train with <see cref="Training.FlatAdamW"/> (one buffer for all parameters: a few launches per optimiser
    /// step and no host synchronisation) instead of the per-parameter AdamW; the same update to rounding.</summary>
    public bool FlatOptimizer { get; init; } = true;
    /// <summary>Train the GDN layers with the fused CUDA forward and backward kernels where they apply
    /// (<see cref="DeltaNet.GatedDeltaNetSpec.FusedBackward"/>; no effect on the CPU).</summary>
    public bool FusedGdnBackward { get; init; } = true;

    /// <summary>MQAR key and value vocabularies (keys ≥ the most pairs evaluated).</summary>
    public int MqarKeys { get; init; } = 64;
    public int MqarValues { get; init; } = 64;
    /// <summary>Each training sequence holds N pairs, N uniform in this range; every pair is queried once.</summary>
    public int TrainPairsMin { get; init; } = 2;
    public int TrainPairsMax { get; init; } = 12;
    /// <summary>Pairs of the length sweep (L … 4L: the filler grows).</summary>
    public int LengthSweepPairs { get; init; } = 8;
    /// <summary>Pairs of the capacity sweep, at length L (4·pairs ≤ L).</summary>
    public int[] PairSweep { get; init; } = { 4, 8, 16 };

    /// <summary>Where the needle is placed in the evaluation (0 = start of the haystack, 1 = end).</summary>
    public double[] NeedleDepths { get; init; } = { 0, 0.5, 1 };
    /// <summary>Digits of the S1/S2 number and hex digits of the S3 value.</summary>
    public int NeedleDigits { get; init; } = 5;
    public int NeedleHexDigits { get; init; } = 8;

    public int SwaWindow { get; init; } = 16;
    public int NsaBlock { get; init; } = 8;
    public int NsaSelectedBlocks { get; init; } = 2;
    public int NsaWindow { get; init; } = 8;
    public int GdnChunkSize { get; init; } = 64;
    /// <summary>How the GDN layers' chunked form inverts its triangular matrices in training (same result, speed differs).</summary>
    public UnitLowerInverse GdnInverse { get; init; } = UnitLowerInverse.Auto;

    /// <summary>Eight small trainings in well under a minute on a 2-core CPU (what CI runs; the numbers only show the pipeline works).</summary>
    public static HybridRecallSettings Tiny => new()
    {
        DModel = 32, Layers = 2, Heads = 2, TrainLength = 64, BatchSize = 16, MqarSteps = 40, NeedleSteps = 40, EvalSequences = 16,
        EvalBatch = 16, MqarKeys = 32, MqarValues = 32, TrainPairsMin = 2, TrainPairsMax = 8, LengthSweepPairs = 8, PairSweep = new[] { 4, 8, 16 },
        NeedleDepths = new[] { 0.0, 1.0 }, SwaWindow = 16, NsaBlock = 8, NsaSelectedBlocks = 4, NsaWindow = 8, GdnChunkSize = 32,
    };

    /// <summary>
    /// The GPU experiment: 2 layers, d = 128, L = 128, three seeds; the 24 trainings run eight at a time. At these
    /// small shapes a step is bound by kernel launches, so the GDN layers train through the fused forward and backward
    /// kernels (<see cref="FusedGdnBackward"/>) and the optimiser keeps all parameters in one buffer
    /// (<see cref="FlatOptimizer"/>). Measured by <c>pathnb bench gdn</c> on an H200 (two runs): the GDN model's step
    /// alone takes 26.8 ms with the TorchSharp GDN form and per-parameter AdamW, 20.1 ms with the flat optimiser, 11.7 ms
    /// with the fused kernels too. Concurrent runs share libtorch's one CUDA autograd thread for their backward passes,
    /// which caps what running eight at once gains; with fewer backward nodes per step it gains more (12 runs: 6.9 ms
    /// effective per step). The notebook took 260 s before these changes and 119 s after. Fewer steps were tried and
    /// rejected: at 700 MQAR and 400 needle steps the models had not learned S3 yet.
    /// </summary>
    public static HybridRecallSettings Full => new()
    {
        DModel = 128, Layers = 2, Heads = 4, TrainLength = 128, BatchSize = 64, MqarSteps = 1000, NeedleSteps = 600, LearningRate = 1e-3,
        Seeds = 3, ConcurrentRuns = 8, GdnChunkSize = 128, GdnInverse = UnitLowerInverse.TriangularSolve,
        EvalSequences = 128, EvalBatch = 64, MqarKeys = 64, MqarValues = 64, TrainPairsMin = 2, TrainPairsMax = 8, LengthSweepPairs = 8,
        PairSweep = new[] { 4, 8, 16, 24, 32 }, NeedleDepths = new[] { 0, 0.25, 0.5, 0.75, 1 }, SwaWindow = 32, NsaBlock = 8,
        NsaSelectedBlocks = 6, NsaWindow = 16,
    };

    /// <summary>Evaluation lengths in tokens.</summary>
    public IReadOnlyList<int> EvalLengths => EvalMultiples.Select(m => m * TrainLength).ToList();

    /// <summary>The Gated DeltaNet layer every model but the attention baseline uses.</summary>
    public GatedDeltaNetSpec GatedDeltaNet => new() { ChunkSize = GdnChunkSize, Inverse = GdnInverse, FusedBackward = FusedGdnBackward };

    /// <summary>Softmax attention with RoPE over the last <see cref="SwaWindow"/> tokens.</summary>
    public SoftmaxAttentionSpec SlidingWindow => new() { Window = SwaWindow };

    /// <summary>NSA-style sparse attention with the scaled-down block, selection and window.</summary>
    public NsaSpec SparseAttention => new() { BlockSize = NsaBlock, SelectedBlocks = NsaSelectedBlocks, Window = NsaWindow };

    /// <summary>The models, in this order: GDN, GDN+SWA (the paper's laSWA), GDN+NSA (laNSA), full attention (RoPE).</summary>
    public IReadOnlyList<(string Name, LayerPattern Mixers)> Models => new (string, LayerPattern)[]
    {
        ("GDN", GatedDeltaNet),
        ("GDN+SWA", new LayerPattern(GatedDeltaNet).Every(2, 1, SlidingWindow)),
        ("GDN+NSA", new LayerPattern(GatedDeltaNet).Every(2, 1, SparseAttention)),
        ("Attention", new SoftmaxAttentionSpec()),
    };

    /// <summary>Checks the numbers fit together; throws naming the field.</summary>
    public HybridRecallSettings Validate()
    {
        static void Positive(int value, string name) { if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be ≥ 1."); }
        Positive(DModel, nameof(DModel)); Positive(Layers, nameof(Layers)); Positive(Heads, nameof(Heads));
        Positive(BatchSize, nameof(BatchSize)); Positive(MqarSteps, nameof(MqarSteps)); Positive(NeedleSteps, nameof(NeedleSteps));
        Positive(EvalSequences, nameof(EvalSequences)); Positive(EvalBatch, nameof(EvalBatch)); Positive(Seeds, nameof(Seeds)); Positive(ConcurrentRuns, nameof(ConcurrentRuns));
        if (EvalMultiples is null || EvalMultiples.Length == 0 || EvalMultiples.Any(m => m < 1))
            throw new ArgumentException("EvalMultiples must list multiples ≥ 1 of L.", nameof(EvalMultiples));
        if (TrainPairsMin < 1 || TrainPairsMax < TrainPairsMin)
            throw new ArgumentOutOfRangeException(nameof(TrainPairsMax), TrainPairsMax, $"need 1 ≤ TrainPairsMin ≤ TrainPairsMax, got {TrainPairsMin}…{TrainPairsMax}.");
        if (4 * TrainPairsMax > TrainLength)
            throw new ArgumentOutOfRangeException(nameof(TrainPairsMax), TrainPairsMax, $"4·TrainPairsMax must fit in TrainLength = {TrainLength} (pairs and their queries).");
        if (PairSweep is null || PairSweep.Length == 0 || PairSweep.Any(p => p < 1 || 4 * p > TrainLength || p > MqarKeys))
            throw new ArgumentException($"PairSweep must list pair counts with 4·pairs ≤ TrainLength = {TrainLength} and pairs ≤ MqarKeys = {MqarKeys}.", nameof(PairSweep));
        if (4 * LengthSweepPairs > TrainLength || LengthSweepPairs > MqarKeys || LengthSweepPairs < 1)
            throw new ArgumentOutOfRangeException(nameof(LengthSweepPairs), LengthSweepPairs, $"LengthSweepPairs must be in 1…min(TrainLength/4, MqarKeys).");
        if (Math.Max(TrainPairsMax, LengthSweepPairs) > MqarKeys)
            throw new ArgumentOutOfRangeException(nameof(MqarKeys), MqarKeys, "MqarKeys must be ≥ every pair count used.");
        if (NeedleDepths is null || NeedleDepths.Length == 0 || NeedleDepths.Any(d => d is < 0 or > 1))
            throw new ArgumentException("NeedleDepths must list depths in [0, 1].", nameof(NeedleDepths));
        SparseAttention.CheckLength(TrainLength);                         // top-n must leave the selection something to choose
        if (NsaSelectedBlocks < 4)
            throw new ArgumentOutOfRangeException(nameof(NsaSelectedBlocks), NsaSelectedBlocks,
                "NsaSelectedBlocks must be ≥ 4: three slots always hold the current, previous and first block, so fewer choose nothing by content.");
        _ = SlidingWindow;                                                // window ≤ 0 and the like throw here, naming the field
        _ = GatedDeltaNet;
        return this;
    }
}
