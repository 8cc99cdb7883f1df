namespace PathNotebooks.Models;

/// <summary>Builds the attention layer for a config's <see cref="PositionEncoding"/>.</summary>
public static class AttentionLayers
{
    /// <param name="config">the model config</param>
    /// <param name="layerIndex">0-based block index (some variants differ per layer)</param>
    public static AttentionLayer Create(ModelConfig config, int layerIndex) => config.Encoding switch
    {
        PositionEncoding.NoPE or PositionEncoding.RoPE or PositionEncoding.ALiBi => new StandardAttention(config),
        PositionEncoding.FoX => new Forgetting.ForgettingAttention(config),
        PositionEncoding.PaTH or PositionEncoding.PaTHFoX => new PaTH.PathAttention(config),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Encoding, "unknown position encoding"),
    };
}
