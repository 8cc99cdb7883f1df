using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PathNotebooks.Mixers;

/// <summary>Initial weights chosen by module type (never by parameter name).</summary>
public static class WeightInit
{
    /// <summary>
    /// Walks <paramref name="root"/>'s modules in registration order: <c>Linear</c> weight ~ N(0, std²) and bias 0,
    /// <c>Embedding</c> weight ~ N(0, std²). A nested <see cref="TokenMixer"/> initialises its own subtree
    /// (<see cref="TokenMixer.InitializeWeights"/>). Everything else keeps its constructor's values.
    /// </summary>
    public static void NormalLinear(nn.Module root, double std)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!(std > 0)) throw new ArgumentOutOfRangeException(nameof(std), std, "std must be > 0.");
        using var _ = no_grad();
        Visit(root, std, isRoot: true, new HashSet<nn.Module>(ReferenceEqualityComparer.Instance));
    }

    // A module registered under two names (a property and an explicit register_module) is listed twice: visit it once.
    static void Visit(nn.Module module, double std, bool isRoot, HashSet<nn.Module> seen)
    {
        if (!seen.Add(module)) return;
        if (!isRoot && module is TokenMixer mixer) { mixer.InitializeWeights(std); return; }
        switch (module)
        {
            case Linear linear:
                nn.init.normal_(linear.weight!, 0, std);
                if (linear.bias is { } bias) nn.init.zeros_(bias);
                return;
            case Embedding embedding:
                nn.init.normal_(embedding.weight!, 0, std);
                return;
        }
        foreach (var (_, child) in module.named_children()) Visit(child, std, isRoot: false, seen);
    }
}
