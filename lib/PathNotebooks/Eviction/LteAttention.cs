using PathNotebooks.Mixers;
using PathNotebooks.Positional;
using static TorchSharp.torch;

namespace PathNotebooks.Eviction;

/// <summary>
/// The LTE layer (<see cref="LteSpec"/>): q, k, v from the shared head projections, keep scores from the
/// <see cref="KeepScorer"/> on the key before RoPE and the value, RoPE on q and k, then attention over the sinks, the
/// window and the kept tokens (<see cref="LteAttentionOps"/>), and the output projection.
/// <list type="bullet">
/// <item>Training (<c>train()</c>): every token with r &gt; 0 stays visible; the forward stores the sparsity loss
/// mean(λ_h · relu(r)) for the trainer (<see cref="TokenMixer.TakeAuxiliaryLoss"/>) and reports the kept count to
/// <see cref="Controller"/>.</item>
/// <item>Evaluation (<c>eval()</c>): at most <see cref="LteSpec.Buffer"/> tokens per head stay, chosen as the decoding
/// cache chooses them (<see cref="Policy"/>), so the forward gives what a cached decode gives.</item>
/// <item>Decoding: <see cref="Step"/> with a fixed-size <see cref="LteState"/>.</item>
/// </list>
/// </summary>
public sealed class LteAttention : TokenMixer
{
    readonly HeadProjections projections;
    readonly LteSpec spec;
    Tensor? auxiliaryLoss;

    public LteAttention(LteSpec spec, MixerDimensions dimensions) : base("LteAttention", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        projections = new HeadProjections(dimensions, QkvLayout.Fused);
        Scorer = new KeepScorer(dimensions.Heads, dimensions.HeadDim);
        Controller = new SparsityController(spec.Controller, dimensions.Heads, spec.Controller.Target ?? spec.Buffer);
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>The per-head CNN that scores tokens.</summary>
    public KeepScorer Scorer { get; }

    /// <summary>λ per head and its history over training.</summary>
    public SparsityController Controller { get; }

    /// <summary>Which tokens the capped forward and the decoding cache keep (the learned scores, or recency as a
    /// heuristic baseline); changeable after training.</summary>
    public EvictionPolicy Policy { get; set; } = EvictionPolicy.Learned;

    /// <summary>Fraction of tokens with r &gt; 0 in the last training forward (mean over batch, heads and positions).</summary>
    public double LastKeptFraction { get; private set; } = double.NaN;

    /// <summary>Queries, keys after RoPE, values (<c>[B, H, T, D]</c>) and the scorer's input <c>[B, H, T, 2D]</c>.</summary>
    (Tensor Q, Tensor K, Tensor V, Tensor ScorerInput) Project(Tensor x, long offset)
    {
        var (q, k, v) = projections.Split(x);
        var scorerInput = cat(new[] { k, v }, -1);
        if (spec.Rope)
        {
            var (cos, sin) = Rope.Angles((int)x.shape[1], Dimensions.HeadDim, spec.RopeBase, offset, x.device);
            q = Rope.Apply(q, cos, sin);
            k = Rope.Apply(k, cos, sin);
        }
        return (q, k, v, scorerInput);
    }

    /// <summary>Keep scores r of every token for the mixer's inputs (no gradient).</summary>
    /// <param name="x">the mixer's input <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, H, T]</c>; the token is kept where r &gt; 0</returns>
    public Tensor Scores(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Scorer.forward(Project(x, 0).ScorerInput).MoveToOuterDisposeScope();
    }

    Tensor RankingScores(Tensor scores) => !training && Policy == EvictionPolicy.Recency ? KeptSet.RecencyScores(scores) : scores;

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        var (q, k, v, scorerInput) = Project(x, 0);
        var r = Scorer.forward(scorerInput);                                        // [B, H, T]
        int? buffer = training ? null : spec.Buffer;
        bool recency = !training && Policy == EvictionPolicy.Recency;
        Tensor y;
        if (CaptureAttention)
        {
            var visible = KeptSet.Visible(RankingScores(r).detach(), spec.Window, spec.Sinks, buffer);
            var p = (q.matmul(k.transpose(-2, -1)) / Math.Sqrt(Dimensions.HeadDim)).masked_fill(visible.logical_not(), double.NegativeInfinity).softmax(-1);
            Keep(p);
            y = p.matmul(LteAttentionOps.StraightThrough(v, r));
        }
        else if (!recency)
            y = LteAttentionOps.Masked(q, k, v, r, spec.Window, spec.Sinks, buffer);
        else                                                                        // the heuristic ignores the scores
            y = nn.functional.scaled_dot_product_attention(q, k, v,
                attn_mask: KeptSet.Visible(KeptSet.RecencyScores(r), spec.Window, spec.Sinks, buffer));
        if (training && is_grad_enabled()) Regularise(r);
        return projections.Output(projections.Merge(y)).MoveToOuterDisposeScope();
    }

    /// <summary>Stores the sparsity loss of this forward and tells the controller how many tokens each head kept.</summary>
    void Regularise(Tensor r)
    {
        var lambda = tensor(Controller.Lambda.ToArray(), dtype: ScalarType.Float32, device: r.device).view(1, -1, 1);
        var loss = (lambda * r.to(ScalarType.Float32).relu()).mean();
        auxiliaryLoss?.Dispose();
        auxiliaryLoss = loss.DetachFromDisposeScope();
        using var kept = r.detach().gt(0).to(ScalarType.Float64);
        var perHead = kept.sum(dim: -1).mean(new long[] { 0 }).cpu().data<double>().ToArray();   // tokens per sequence, per head
        LastKeptFraction = perHead.Average() / r.shape[2];
        Controller.Observe(perHead);
    }

    /// <summary>The sparsity loss of the last training forward (once; null when there is none).</summary>
    public override Tensor? TakeAuxiliaryLoss()
    {
        var loss = auxiliaryLoss;
        auxiliaryLoss = null;
        return loss;
    }

    /// <summary>An empty fixed-size cache.</summary>
    public override MixerState NewState(long batch) => new LteState(batch, spec.Window, spec.Buffer, spec.Sinks);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="LteState"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var cache = CheckStep<LteState>(x, state);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (q, k, v, scorerInput) = Project(x.unsqueeze(1), cache.Position);      // [B, H, 1, ·]
        Tensor Score(Tensor inputs, long first) => Policy == EvictionPolicy.Recency
            ? KeptSet.RecencyScores(inputs[.., .., .., 0], first)
            : Scorer.forward(inputs);
        cache.Append(k.squeeze(2), v.squeeze(2), scorerInput.squeeze(2), Score);
        var y = cache.Attend(q.squeeze(2)).unsqueeze(2);                                        // [B, H, 1, D]
        return projections.Output(projections.Merge(y)).squeeze(1).MoveToOuterDisposeScope();
    }
}
