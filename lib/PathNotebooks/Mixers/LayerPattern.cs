namespace PathNotebooks.Mixers;

/// <summary>
/// Which <see cref="MixerSpec"/> each layer of a stack uses: a default, plus overrides applied in order (a later match
/// wins). A hybrid stack is one line, e.g. <c>new LayerPattern(gatedDeltaNet).Every(2, 1, slidingWindow)</c> puts the
/// sliding window at layers 1, 3, 5, … and the default everywhere else. A single spec converts to a uniform pattern.
/// </summary>
public sealed record LayerPattern
{
    readonly IReadOnlyList<(Func<int, bool> Matches, string Rule, MixerSpec Spec)> overrides;

    /// <param name="defaultSpec">the mixer of every layer no override matches</param>
    public LayerPattern(MixerSpec defaultSpec)
        : this(defaultSpec ?? throw new ArgumentNullException(nameof(defaultSpec)), Array.Empty<(Func<int, bool>, string, MixerSpec)>()) { }

    LayerPattern(MixerSpec defaultSpec, IReadOnlyList<(Func<int, bool>, string, MixerSpec)> overrides)
    {
        Default = defaultSpec;
        this.overrides = overrides;
    }

    /// <summary>The mixer of every layer no override matches.</summary>
    public MixerSpec Default { get; }

    /// <summary>True when every layer uses <see cref="Default"/>.</summary>
    public bool IsUniform => overrides.Count == 0;

    public static implicit operator LayerPattern(MixerSpec spec) => new(spec);

    /// <summary>Uses <paramref name="spec"/> at layers l with l mod <paramref name="period"/> = <paramref name="offset"/>.</summary>
    public LayerPattern Every(int period, int offset, MixerSpec spec)
    {
        if (period < 1) throw new ArgumentOutOfRangeException(nameof(period), period, "period must be ≥ 1.");
        if (offset < 0 || offset >= period) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offset must be in 0…{period - 1}.");
        return With(l => l % period == offset, period == 1 ? "all" : $"l mod {period} = {offset}", spec);
    }

    /// <summary>Uses <paramref name="spec"/> at the listed layers (0-based).</summary>
    public LayerPattern At(MixerSpec spec, params int[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Length == 0 || layers.Any(l => l < 0))
            throw new ArgumentException("layers must list at least one 0-based layer index.", nameof(layers));
        var set = layers.ToHashSet();
        return With(set.Contains, $"l ∈ {{{string.Join(", ", layers)}}}", spec);
    }

    LayerPattern With(Func<int, bool> matches, string rule, MixerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new LayerPattern(Default, overrides.Append((matches, rule, spec)).ToList());
    }

    /// <summary>The spec of layer <paramref name="layer"/> (0-based).</summary>
    public MixerSpec For(int layer)
    {
        if (layer < 0) throw new ArgumentOutOfRangeException(nameof(layer), layer, "layer must be ≥ 0.");
        var spec = Default;
        foreach (var (matches, _, s) in overrides) if (matches(layer)) spec = s;
        return spec;
    }

    /// <summary>The specs of layers 0 … <paramref name="layers"/> − 1.</summary>
    public IReadOnlyList<MixerSpec> Resolve(int layers) => Enumerable.Range(0, layers).Select(For).ToList();

    /// <summary>"RoPE" for a uniform pattern, else the per-layer names, e.g. "GDN / SWA / GDN / SWA" for <paramref name="layers"/> = 4.</summary>
    public string Describe(int layers) => IsUniform ? Default.Name : string.Join(" / ", Resolve(layers).Select(s => s.Name));

    public override string ToString() => IsUniform ? Default.Name
        : $"{Default.Name}; " + string.Join("; ", overrides.Select(o => $"{o.Rule}: {o.Spec.Name}"));

    public bool Equals(LayerPattern? other) => other is not null && Default == other.Default
        && overrides.Select(o => (o.Rule, o.Spec)).SequenceEqual(other.overrides.Select(o => (o.Rule, o.Spec)));

    public override int GetHashCode() => HashCode.Combine(Default, overrides.Count);
}
