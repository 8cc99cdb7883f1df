using PathNotebooks.Mixers;
using PathNotebooks.Positional;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Softmax;

/// <summary>
/// Multi-head causal softmax attention with a fixed position encoding: NoPE, RoPE or ALiBi, optionally a sliding
/// window (<see cref="SoftmaxAttentionSpec"/>). The fast path is libtorch's fused <c>scaled_dot_product_attention</c>
/// (for a long windowed sequence, its blockwise form <see cref="SlidingWindowAttention.Blockwise"/>);
/// the explicit path softmax(scale·QKᵀ + bias)·V runs when probabilities are captured. Decodes with a <see cref="KvCache"/>.
/// </summary>
public sealed class SoftmaxAttention : TokenMixer
{
    readonly HeadProjections projections;
    readonly SoftmaxAttentionSpec spec;

    public SoftmaxAttention(SoftmaxAttentionSpec spec, MixerDimensions dimensions) : base($"{spec?.Position}Attention", dimensions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Check(dimensions);
        this.spec = spec;
        projections = new HeadProjections(dimensions, QkvLayout.Fused);
        RegisterComponents();
    }

    public override MixerSpec Spec => spec;

    /// <summary>Sliding window used from now on, overriding the spec's (null = the spec's); changeable after training.</summary>
    public int? Window { get; set; }

    /// <summary>The window in effect: <see cref="Window"/> if set, else the spec's.</summary>
    public int? EffectiveWindow => Window ?? spec.Window;

    /// <summary>Multiplies every logit (softmax temperature 1/λ); 1 = standard. Used by attention-window extension.</summary>
    public double LogitScale { get; set; } = 1.0;

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Exactly(x, nameof(x), "[B, T, DModel]", -1, -1, Dimensions.DModel);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = Dimensions.Heads, d = Dimensions.HeadDim;
        var (q, k, v) = projections.Split(x);                                      // [B, H, T, D] each
        if (spec.Position == AttentionPosition.RoPE)
        {
            var (cos, sin) = Rope.Angles((int)t, d, spec.RopeBase, 0, x.device);
            q = Rope.Apply(q, cos, sin, spec.RopePairing);
            k = Rope.Apply(k, cos, sin, spec.RopePairing);
        }
        if (LogitScale != 1.0) q = q * LogitScale;

        int? window = EffectiveWindow;
        if (!CaptureAttention && window is int wb && SlidingWindowAttention.UsesBlockwise(spec.WindowKernel, (int)t, wb))
        {
            var slopes = spec.Position == AttentionPosition.ALiBi ? Alibi.Slopes(h).to(x.device) : null;
            var yb = SlidingWindowAttention.Blockwise(q, k, v, wb, alibiSlopes: slopes);
            return projections.Output(projections.Merge(yb)).MoveToOuterDisposeScope();
        }
        Tensor? bias = null;                                                       // [H or 1, T, T] additive
        if (spec.Position == AttentionPosition.ALiBi)
        {
            bias = Alibi.Bias(h, (int)t, (int)t, x.device).to(q.dtype);
            if (window is int w) bias = bias + CausalMask.Additive((int)t, (int)t, w, x.device, q.dtype);
        }
        else if (window != null)
            bias = CausalMask.Additive((int)t, (int)t, window, x.device, q.dtype).unsqueeze(0);

        Tensor y;
        if (CaptureAttention)
        {
            var logits = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(d);            // [B, H, T, T]
            logits = logits + (bias ?? CausalMask.Additive((int)t, (int)t, null, x.device, q.dtype));
            var p = logits.softmax(-1);
            Keep(p);
            y = p.matmul(v);
        }
        else
            y = bias is null
                ? F.scaled_dot_product_attention(q, k, v, is_casual: true)
                : F.scaled_dot_product_attention(q, k, v, attn_mask: bias.unsqueeze(0).expand(b, -1, -1, -1));
        return projections.Output(projections.Merge(y)).MoveToOuterDisposeScope();
    }

    /// <summary>An empty KV cache: unbounded, or a ring buffer of <see cref="EffectiveWindow"/> slots.</summary>
    public override MixerState NewState(long batch) => new KvCache(batch, EffectiveWindow);

    /// <param name="x">the next token's hidden state <c>[B, DModel]</c></param>
    /// <param name="state">this mixer's <see cref="KvCache"/></param>
    /// <returns><c>[B, DModel]</c></returns>
    public override Tensor Step(Tensor x, MixerState state)
    {
        var cache = CheckStep<KvCache>(x, state);
        if (cache.Capacity != EffectiveWindow)
            throw new ArgumentException($"state was made for window {cache.Capacity?.ToString() ?? "none"}, the layer now uses {EffectiveWindow?.ToString() ?? "none"}.", nameof(state));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int h = Dimensions.Heads, d = Dimensions.HeadDim;
        long position = cache.Position;
        var (q, k, v) = projections.Split(x.unsqueeze(1));                         // [B, H, 1, D] each
        if (spec.Position == AttentionPosition.RoPE)
        {
            var (cos, sin) = Rope.Angles(1, d, spec.RopeBase, position, x.device);
            q = Rope.Apply(q, cos, sin, spec.RopePairing);
            k = Rope.Apply(k, cos, sin, spec.RopePairing);
        }
        if (LogitScale != 1.0) q = q * LogitScale;
        cache.Append(k.squeeze(2), v.squeeze(2));

        var logits = cache.Keys!.matmul(q.transpose(-2, -1)).squeeze(-1) / Math.Sqrt(d);    // [B, H, n]
        var slots = cache.Positions!;                                              // [n]
        if (spec.Position == AttentionPosition.ALiBi)
        {
            var distance = (position - slots).to(ScalarType.Float32);              // [n]
            logits = logits - (Alibi.Slopes(h).to(x.device).view(-1, 1) * distance).to(logits.dtype);
        }
        logits = logits.masked_fill(slots.lt(0), double.NegativeInfinity);       // unwritten ring-buffer slots
        var y = logits.softmax(-1).unsqueeze(2).matmul(cache.Values!);             // [B, H, 1, D]
        return projections.Output(projections.Merge(y)).squeeze(1).MoveToOuterDisposeScope();
    }
}
