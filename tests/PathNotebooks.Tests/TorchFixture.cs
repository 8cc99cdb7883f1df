using PathNotebooks.Runtime;

namespace PathNotebooks.Tests;

/// <summary>Starts the CPU runtime once for every test class that touches torch.</summary>
public sealed class TorchFixture
{
    public TorchFixture() => TorchRuntime.Initialize("cpu", quiet: true);
}

[CollectionDefinition("torch")]
public sealed class TorchCollection : ICollectionFixture<TorchFixture> { }
