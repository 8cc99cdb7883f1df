using PathNotebooks.Tasks;

namespace PathNotebooks.Tests.Tasks;

[Collection("torch")]
public class WordProblemTests
{
    [Fact]
    public void GroupsHaveTheRightOrderAndAssociativeExactProducts()
    {
        var s5 = PermutationGroup.S5; var a5 = PermutationGroup.A5;
        Assert.Equal(120, s5.Order);
        Assert.Equal(60, a5.Order);
        var rng = new Random(1);
        for (int n = 0; n < 300; n++)
        {
            int a = rng.Next(120), b = rng.Next(120), c = rng.Next(120);
            Assert.Equal(s5.Multiply(s5.Multiply(a, b), c), s5.Multiply(a, s5.Multiply(b, c)));
            Assert.Equal(s5.IndexOf(PermutationGroup.Compose(s5.Element(a), s5.Element(b))), s5.Multiply(a, b));
            Assert.Equal(s5.Identity, s5.Multiply(a, s5.Inverse(a)));
        }
        // A5 is closed and every element is even; a 3-cycle times a 3-cycle stays in A5
        for (int a = 0; a < 60; a++) Assert.Equal(0, PermutationGroup.Parity(a5.Element(a)));
        Assert.Throws<ArgumentException>(() => a5.IndexOf(new[] { 1, 0, 2, 3, 4 }));     // a transposition is odd
    }

    [Fact]
    public void TargetsAreRunningProductsByBruteForceComposition()
    {
        var g = PermutationGroup.A5;
        using var batch = WordProblem.Generate(g, 3, 17, new Generator(2));
        var x = batch.Inputs.data<long>().ToArray(); var y = batch.Targets.data<long>().ToArray();
        for (int b = 0; b < 3; b++)
        {
            int[] running = { 0, 1, 2, 3, 4 };
            for (int t = 0; t < 17; t++)
            {
                var e = g.Element((int)x[b * 17 + t]);
                running = running.Select((_, i) => running[e[i]]).ToArray();            // running ∘ e: apply e first
                Assert.Equal(g.IndexOf(running), y[b * 17 + t]);
            }
        }
        using var again = WordProblem.Generate(g, 3, 17, new Generator(2));
        Assert.True(again.Inputs.eq(batch.Inputs).all().item<bool>());
        // the paper's alphabet: (123), (124), (125) and inverses — six distinct 3-cycles that generate all of A5
        var gens = g.ThreeCycleGenerators();
        Assert.Equal(6, gens.Distinct().Count());
        Assert.Equal(new[] { 1, 3, 2, 0, 4 }, g.Element(gens[2]));                    // (0 1 3): 0 → 1 → 3 → 0
        Assert.Equal(g.Identity, g.Multiply(gens[2], gens[3]));                        // followed by its inverse
        var reached = new HashSet<int> { g.Identity };
        for (int round = 0; round < 10; round++)
            foreach (var e in reached.ToList()) foreach (var s in gens) reached.Add(g.Multiply(e, s));
        Assert.Equal(60, reached.Count);
        using var words = WordProblem.Generate(g, 4, 50, new Generator(3), alphabet: gens);
        Assert.True(words.Inputs.data<long>().ToArray().All(x => gens.Contains((int)x)));
    }
}
