using static TorchSharp.torch;

namespace PathNotebooks.Kernels;

/// <summary>One implementation of an op: maps the inputs to the attention output <c>[B, H, T, Dv]</c> in q's dtype.</summary>
/// <param name="Name">as printed by <c>pathnb bench</c> and selected by <c>--kernels</c></param>
/// <param name="Forward">the kernel; differentiable in every input it reads (unless <paramref name="ForwardOnly"/>)</param>
/// <param name="Choice">for a variant that picks its implementation itself: which one runs on these inputs, without
/// (false) or with (true) gradients, in words; <c>pathnb bench</c> prints it. Null for the others.</param>
/// <param name="WhyNot">for a variant that runs only on some inputs (the fused CUDA kernels: bf16/fp16, D = 64 or 128,
/// a supported GPU): null when it can run these inputs, else why not. Tests, fuzzing and benchmarks skip it there and
/// say so. Null = runs everywhere.</param>
/// <param name="ForwardOnly">true for a variant without a backward (the fused gated-delta-rule kernels): it runs only
/// without gradients, so tests and fuzzing compare its values alone and benchmarks time its forward alone.</param>
public sealed record KernelVariant(string Name, Func<KernelInputs, Tensor> Forward,
    Func<KernelInputs, bool, string>? Choice = null, Func<KernelInputs, string?>? WhyNot = null, bool ForwardOnly = false)
{
    /// <summary>Null when the variant runs on these inputs, else the reason it does not.</summary>
    public string? Unsupported(KernelInputs inputs) => WhyNot?.Invoke(inputs);

    public override string ToString() => Name;
}

/// <summary>
/// One attention op and every way the kit computes it.
/// </summary>
/// <param name="Name">"sdpa", "path", "path-fox", "fox"</param>
/// <param name="Summary">one line for listings</param>
/// <param name="Inputs">which inputs the op takes and how to draw random ones</param>
/// <param name="Reference">the naive form in float64, <c>[B, H, T, Dv]</c>: the oracle every variant is tested against
/// (differentiable, so gradients are compared too)</param>
/// <param name="Variants">the fast implementations, in benchmark order</param>
public sealed record KernelOp(string Name, string Summary, KernelInputSpec Inputs, Func<KernelInputs, Tensor> Reference,
    IReadOnlyList<KernelVariant> Variants)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every attention op with its variants, registered once here: the benchmarks (<c>pathnb bench</c>) time them and the
/// tests pin each one to its op's float64 reference, so a variant added here is benchmarked and tested at once.
/// Variant options (chunk size, how the UT transform inverts, when FoX leaves SDPA) are arguments baked into each
/// variant, never process-wide settings.
/// </summary>
public static class KernelRegistry
{
    /// <summary>The ops in a fixed order: sdpa (the baseline), path, path-fox, fox, gdn, swa, nsa, lte.</summary>
    public static IReadOnlyList<KernelOp> Ops { get; } = new[] { SdpaKernels.Op, PathKernels.Path, PathKernels.PathFox, FoxKernels.Op, GdnKernels.Op, SwaKernels.Op, NsaKernels.Op, LteKernels.Op };

    /// <summary>The op called <paramref name="name"/>, or null.</summary>
    public static KernelOp? Find(string name) => Ops.FirstOrDefault(o => o.Name == name);

    /// <summary>The op called <paramref name="name"/>; throws naming the known ops.</summary>
    public static KernelOp Get(string name) => Find(name)
        ?? throw new ArgumentException($"unknown kernel op '{name}' (known: {string.Join(", ", Ops.Select(o => o.Name))}).", nameof(name));

    /// <summary>Fused causal SDPA, the baseline every benchmark table is divided by.</summary>
    public static KernelVariant Baseline => SdpaKernels.Causal;
}
