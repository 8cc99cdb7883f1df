using System.Text;
using Xunit.Abstractions;

namespace PathNotebooks.Tests.Architecture;

/// <summary>
/// The library's namespaces depend on each other one way only: the graph of which namespace uses which, read from
/// the built PathNotebooks.dll, has no cycle. A cycle means two folders cannot be understood, tested or moved apart.
/// </summary>
public class NamespaceDependencyTests(ITestOutputHelper output)
{
    const string Root = "PathNotebooks";

    /// <summary>The library as built beside the tests (the test project references it).</summary>
    static NamespaceGraph Library() => NamespaceGraph.Read(Path.Combine(AppContext.BaseDirectory, Root + ".dll"), Root);

    [Fact]
    public void NamespacesDependOneWay()
    {
        var graph = Library();
        var cycles = graph.Cycles();
        var report = new StringBuilder();
        // First the edges that lie on some cycle (what a fix has to cut or turn round), then every cycle.
        var onCycles = cycles.SelectMany(c => c.Zip(c.Skip(1))).Distinct().Order().ToList();
        report.AppendLine($"{onCycles.Count} edge(s) on cycles:");
        foreach (var (from, to) in onCycles) report.AppendLine("    " + graph.Describe(from, to));
        foreach (var cycle in cycles)
        {
            report.AppendLine(string.Join(" -> ", cycle));
            for (int i = 0; i + 1 < cycle.Count; i++) report.AppendLine("    " + graph.Describe(cycle[i], cycle[i + 1]));
        }
        Assert.True(cycles.Count == 0, $"{cycles.Count} namespace cycle(s) in {Root}.dll; {report}");
    }

    [Fact]
    public void PrintsTheGraph()
    {
        var graph = Library();
        foreach (var ns in graph.Namespaces)
        {
            var targets = graph.Edges.TryGetValue(ns, out var t) ? t.Keys.ToList() : new List<string>();
            output.WriteLine(targets.Count == 0 ? $"{ns} uses no other namespace" : $"{ns} uses {targets.Count}:");
            foreach (var to in targets) output.WriteLine("    " + graph.Describe(ns, to));
        }
        Assert.Contains(Root + ".Runtime", graph.Namespaces);
        Assert.All(graph.Edges.Keys, ns => Assert.Contains(ns, graph.Namespaces));
    }

    /// <summary>
    /// The reader on the two fixture namespaces of this test assembly: a use found only in a lambda's body (a
    /// compiler-generated nested type) counts for the type that wrote it, a <c>typeof</c> in an attribute counts, and
    /// the two close one cycle.
    /// </summary>
    [Fact]
    public void FindsUsesInClosuresAndAttributesAndTheCycleTheyMake()
    {
        const string fixture = "PathNotebooks.Tests.Architecture.Fixture";
        var graph = NamespaceGraph.Read(typeof(NamespaceDependencyTests).Assembly.Location, fixture);
        Assert.Equal(new[] { fixture + ".Used", fixture + ".User" }, graph.Namespaces);
        Assert.Equal(("User.UserThroughClosure", "Used.UsedOnlyInBodies"), graph.Edges[fixture + ".User"][fixture + ".Used"]);
        Assert.Equal(("Used.UsedOnlyInBodies", "User.UserThroughClosure"), graph.Edges[fixture + ".Used"][fixture + ".User"]);
        var cycle = Assert.Single(graph.Cycles());
        Assert.Equal(new[] { fixture + ".Used", fixture + ".User", fixture + ".Used" }, cycle);
        Assert.Equal($"{fixture}.User -> {fixture}.Used (User.UserThroughClosure uses Used.UsedOnlyInBodies)",
            graph.Describe(fixture + ".User", fixture + ".Used"));
    }
}
