namespace PathNotebooks.Tasks;

/// <summary>
/// A finite permutation group with exact arithmetic: elements are permutations of {0, …, n−1} (arrays
/// <c>p</c> with <c>p[x]</c> the image of x), numbered 0 … Order−1 in lexicographic order. The product is composition,
/// <c>(a·b)(x) = a(b(x))</c> — apply b first.
/// </summary>
public sealed class PermutationGroup
{
    readonly int[][] elements;
    readonly Dictionary<string, int> index = new();
    readonly int[,] table;

    public string Name { get; }
    /// <summary>n: the group acts on {0, …, n−1}.</summary>
    public int Degree { get; }
    public int Order => elements.Length;
    /// <summary>Id of the identity permutation.</summary>
    public int Identity { get; }
    /// <summary>The permutation of an element id (a copy).</summary>
    public int[] Element(int id) => (int[])elements[id].Clone();

    PermutationGroup(string name, int degree, IEnumerable<int[]> perms)
    {
        Name = name;
        Degree = degree;
        elements = perms.ToArray();
        for (int i = 0; i < elements.Length; i++) index[Key(elements[i])] = i;
        Identity = index[Key(Enumerable.Range(0, degree).ToArray())];
        table = new int[Order, Order];
        for (int a = 0; a < Order; a++)
            for (int b = 0; b < Order; b++)
                table[a, b] = index.TryGetValue(Key(Compose(elements[a], elements[b])), out var c) ? c
                    : throw new InvalidOperationException($"{name} is not closed under composition.");
    }

    /// <summary>The symmetric group S_n (n! elements).</summary>
    public static PermutationGroup Symmetric(int n) => new($"S{n}", n, Permutations(n));

    /// <summary>The alternating group A_n (even permutations, n!/2 elements).</summary>
    public static PermutationGroup Alternating(int n) => new($"A{n}", n, Permutations(n).Where(p => Parity(p) == 0));

    /// <summary>S5 (120 elements, not solvable: its word problem is NC¹-complete).</summary>
    public static PermutationGroup S5 { get; } = Symmetric(5);
    /// <summary>A5 (60 elements, the smallest non-solvable group).</summary>
    public static PermutationGroup A5 { get; } = Alternating(5);

    /// <summary>
    /// Ids of the 3-cycles (0 1 2), (0 1 3), (0 1 4) and their inverses — in 1-based notation (123), (124), (125), the
    /// generators the PaTH paper's A5 experiment draws its words from. They generate A5 (and lie in S5).
    /// </summary>
    public IReadOnlyList<int> ThreeCycleGenerators()
    {
        if (Degree != 5) throw new InvalidOperationException($"the (123), (124), (125) generators need degree 5, {Name} has degree {Degree}.");
        var ids = new List<int>();
        foreach (var third in new[] { 2, 3, 4 })
        {
            var p = Enumerable.Range(0, 5).ToArray();
            p[0] = 1; p[1] = third; p[third] = 0;                                      // 0 → 1 → third → 0
            int id = IndexOf(p);
            ids.Add(id);
            ids.Add(Inverse(id));
        }
        return ids;
    }

    /// <summary>Id of <c>a·b</c> (apply b, then a).</summary>
    public int Multiply(int a, int b) => table[a, b];

    /// <summary>Id of the inverse of <paramref name="a"/>.</summary>
    public int Inverse(int a)
    {
        for (int b = 0; b < Order; b++) if (table[a, b] == Identity) return b;
        throw new InvalidOperationException("no inverse");
    }

    /// <summary>Id of a permutation given as an image array.</summary>
    public int IndexOf(IReadOnlyList<int> permutation) =>
        index.TryGetValue(Key(permutation), out var i) ? i
            : throw new ArgumentException($"[{string.Join(", ", permutation)}] is not an element of {Name}.", nameof(permutation));

    /// <summary><c>(a∘b)[x] = a[b[x]]</c>.</summary>
    public static int[] Compose(IReadOnlyList<int> a, IReadOnlyList<int> b) => b.Select(x => a[x]).ToArray();

    /// <summary>0 for even, 1 for odd permutations (counted by inversions).</summary>
    public static int Parity(IReadOnlyList<int> p)
    {
        int inversions = 0;
        for (int i = 0; i < p.Count; i++) for (int j = i + 1; j < p.Count; j++) if (p[i] > p[j]) inversions++;
        return inversions % 2;
    }

    static string Key(IReadOnlyList<int> p) => string.Join(",", p);

    static IEnumerable<int[]> Permutations(int n)
    {
        if (n is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(n), n, "degree must be in 1 … 8.");
        var p = Enumerable.Range(0, n).ToArray();
        while (true)                                                                   // lexicographic next-permutation
        {
            yield return (int[])p.Clone();
            int i = n - 2;
            while (i >= 0 && p[i] >= p[i + 1]) i--;
            if (i < 0) yield break;
            int j = n - 1;
            while (p[j] <= p[i]) j--;
            (p[i], p[j]) = (p[j], p[i]);
            Array.Reverse(p, i + 1, n - i - 1);
        }
    }

    public override string ToString() => $"{Name} (order {Order})";
}
