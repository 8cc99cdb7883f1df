namespace PathNotebooks.Forgetting;

/// <summary>What <see cref="ForgettingAttentionFast.Choose"/> decided, and from which numbers.</summary>
/// <param name="Form">the form that runs: SDPA when <paramref name="SdpaBytes"/> ≤
/// <paramref name="BudgetBytes"/></param>
/// <param name="SdpaBytes">estimated peak memory of <see cref="ForgettingAttentionFast.Sdpa"/> for the shape
/// (<see cref="ForgettingAttentionFast.SdpaBytes"/>), bytes</param>
/// <param name="BudgetBytes">the budget it was compared with (explicit, or the device's automatic one), bytes</param>
public sealed record FoxKernelChoice(FoxKernelForm Form, long SdpaBytes, long BudgetBytes)
{
    /// <summary>E.g. "sdpa+mask (needs ≈ 18.25 GB ≤ budget 37.53 GB)".</summary>
    public override string ToString() => Form switch
    {
        FoxKernelForm.Fused => "fused CUDA kernel (flash_attention.cu)",
        FoxKernelForm.Sdpa => $"sdpa+mask (needs ≈ {Size(SdpaBytes)} ≤ budget {Size(BudgetBytes)})",
        _ => $"chunked (sdpa+mask would need ≈ {Size(SdpaBytes)} > budget {Size(BudgetBytes)})",
    };

    static string Size(long bytes) => bytes >= 1e9
        ? FormattableString.Invariant($"{bytes / 1e9:0.00} GB")
        : FormattableString.Invariant($"{bytes / 1e6:0.0} MB");
}
