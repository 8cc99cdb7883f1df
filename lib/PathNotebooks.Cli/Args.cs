namespace PathNotebooks.Cli;

/// <summary>Minimal option parsing: positional words plus --name value / --flag.</summary>
sealed class Args
{
    readonly Dictionary<string, string?> options = new(StringComparer.Ordinal);
    public List<string> Positional { get; } = new();

    public Args(IEnumerable<string> args, params string[] flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = a.IndexOf('=');
                if (eq > 0) { options[a[2..eq]] = a[(eq + 1)..]; continue; }
                var name = a[2..];
                if (flags.Contains(name)) { options[name] = "true"; continue; }
                if (i + 1 >= list.Count) throw new UsageException($"option --{name} needs a value.");
                options[name] = list[++i];
            }
            else Positional.Add(a);
        }
    }

    public string? Get(string name) => options.TryGetValue(name, out var v) ? v : null;
    public bool Flag(string name) => options.ContainsKey(name);
    public IEnumerable<string> Names => options.Keys;

    public void AllowOnly(params string[] names)
    {
        foreach (var n in options.Keys)
            if (!names.Contains(n)) throw new UsageException($"unknown option --{n} (allowed: {string.Join(", ", names.Select(x => "--" + x))}).");
    }

    public string? Choice(string name, params string[] allowed)
    {
        var v = Get(name);
        if (v != null && !allowed.Contains(v)) throw new UsageException($"--{name} must be one of {string.Join(" | ", allowed)}, not '{v}'.");
        return v;
    }
}

sealed class UsageException(string message) : Exception(message);
