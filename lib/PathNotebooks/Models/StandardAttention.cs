using PathNotebooks.Positional;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Models;

/// <summary>
/// Multi-head causal softmax attention with a fixed position encoding: NoPE, RoPE or ALiBi, optionally a sliding
/// window. The fast path is libtorch's fused <c>scaled_dot_product_attention</c>; the explicit path
/// softmax(scale·QKᵀ + bias)·V runs when probabilities are captured.
/// </summary>
public sealed class StandardAttention : AttentionLayer
{
    readonly Linear qkv, proj;
    readonly ModelConfig config;

    public StandardAttention(ModelConfig config) : base($"{config.Encoding}Attention")
    {
        if (config.Encoding is not (PositionEncoding.NoPE or PositionEncoding.RoPE or PositionEncoding.ALiBi))
            throw new ArgumentException($"StandardAttention handles NoPE, RoPE and ALiBi, not {config.Encoding}.", nameof(config));
        this.config = config.Validate();
        qkv = nn.Linear(config.DModel, 3 * config.DModel, hasBias: false);
        proj = nn.Linear(config.DModel, config.DModel, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Sliding window used at evaluation (defaults to the config's); changeable after training.</summary>
    public int? Window { get; set; }

    /// <summary>Multiplies every logit (softmax temperature 1/λ); 1 = standard. Used by attention-window extension.</summary>
    public double LogitScale { get; set; } = 1.0;

    /// <param name="x">hidden states <c>[B, T, DModel]</c></param>
    /// <returns><c>[B, T, DModel]</c></returns>
    public override Tensor forward(Tensor x)
    {
        Shapes.Rank(x, 3, nameof(x), "[B, T, DModel]");
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        int h = config.Heads, d = config.HeadDim;
        var parts = qkv.forward(x).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4);    // [3, B, H, T, D]
        Tensor q = parts[0], k = parts[1], v = parts[2];
        if (config.Encoding == PositionEncoding.RoPE)
        {
            var (cos, sin) = Rope.Angles((int)t, d, config.RopeBase, 0, x.device);
            q = Rope.Apply(q, cos, sin, config.RopePairing);
            k = Rope.Apply(k, cos, sin, config.RopePairing);
        }
        if (LogitScale != 1.0) q = q * LogitScale;

        int? window = Window ?? config.Window;
        Tensor? bias = null;                                                       // [H or 1, T, T] additive
        if (config.Encoding == PositionEncoding.ALiBi)
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
        y = y.transpose(1, 2).reshape(b, t, h * d);                                // [B, T, DModel]
        return proj.forward(y).MoveToOuterDisposeScope();
    }
}
