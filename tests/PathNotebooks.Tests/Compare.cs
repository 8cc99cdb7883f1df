namespace PathNotebooks.Tests;

/// <summary>Comparison helpers used by the naive-vs-fast tests.</summary>
public static class Compare
{
    /// <summary>‖a − b‖ / max(‖b‖, tiny), computed in float64.</summary>
    public static double RelativeError(Tensor a, Tensor b)
    {
        using var scope = torch.NewDisposeScope();
        var a64 = a.detach().to(ScalarType.Float64).cpu();
        var b64 = b.detach().to(ScalarType.Float64).cpu();
        return (a64 - b64).norm().item<double>() / Math.Max(b64.norm().item<double>(), 1e-300);
    }
}
