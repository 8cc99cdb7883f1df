using PathNotebooks.Runtime;

namespace PathNotebooks.Tests;

/// <summary>Starts the CPU runtime once for every test class that touches torch.</summary>
public sealed class TorchFixture
{
    public TorchFixture() => TorchRuntime.Initialize("cpu", quiet: true);
}

[CollectionDefinition("torch")]
public sealed class TorchCollection : ICollectionFixture<TorchFixture> { }

/// <summary>
/// Tests that execute notebooks (each in its own kernel process, training small models) run one after another: on a
/// 2-core CI machine, running them side by side only stretches every cell towards its timeout.
/// </summary>
[CollectionDefinition("notebook runs")]
public sealed class NotebookRunsCollection { }

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
