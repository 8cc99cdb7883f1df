using System.Text.RegularExpressions;
using PathNotebooks.Tests.Notebooks;

namespace PathNotebooks.Tests.Docs;

/// <summary>
/// The repository explains itself: no file points at a reference document that is not part of it, and every
/// <c>docs/&lt;page&gt;.md</c> a comment or page names exists.
/// </summary>
public class SelfContainedDocsTests
{
    static readonly string[] Extensions = { ".cs", ".md", ".ipynb" };

    // Built from pieces so that this file does not mention the name it looks for.
    static readonly string ForbiddenName = string.Concat("ALGORITHMS", ".md");

    /// <summary>Tracked-style source and documentation files: everything under the root except bin/, obj/ and dot folders.</summary>
    static IEnumerable<string> SourceFiles()
    {
        var pending = new Stack<string>();
        pending.Push(RepoPaths.Root);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            foreach (var sub in Directory.GetDirectories(dir))
            {
                var name = Path.GetFileName(sub);
                if (name is "bin" or "obj" or "node_modules" || name.StartsWith('.')) continue;
                pending.Push(sub);
            }
            foreach (var file in Directory.GetFiles(dir))
                if (Extensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase))
                    yield return file;
        }
    }

    static string Relative(string path) => Path.GetRelativePath(RepoPaths.Root, path).Replace('\\', '/');

    [Fact]
    public void FindsTheSourceFiles()
    {
        var files = SourceFiles().Select(Relative).ToList();
        Assert.Contains("README.md", files);
        Assert.Contains("lib/PathNotebooks/Path/Householder.cs", files);
        Assert.Contains(files, f => f.StartsWith("notebooks/") && f.EndsWith(".ipynb"));
        Assert.Contains(files, f => f.StartsWith("docs/") && f.EndsWith(".md"));
    }

    [Fact]
    public void NoFileCitesAnExternalReferenceDocument()
    {
        var offenders = SourceFiles()
            .Where(f => File.ReadAllText(f).Contains(ForbiddenName, StringComparison.OrdinalIgnoreCase))
            .Select(Relative).ToList();
        Assert.True(offenders.Count == 0, $"{ForbiddenName} is not part of this repository; cite docs/ instead: {string.Join(", ", offenders)}");
    }

    [Fact]
    public void EveryReferencedDocsPageExists()
    {
        var page = new Regex(@"docs/[a-z0-9-]+\.md");
        var missing = new List<string>();
        int references = 0;
        foreach (var file in SourceFiles())
            foreach (Match m in page.Matches(File.ReadAllText(file)))
            {
                references++;
                if (!File.Exists(Path.Combine(RepoPaths.Root, m.Value)))
                    missing.Add($"{Relative(file)} → {m.Value}");
            }
        Assert.True(references > 0, "expected code comments to cite docs/ pages");
        Assert.True(missing.Count == 0, "missing docs pages: " + string.Join("; ", missing.Distinct()));
    }

    [Fact]
    public void EveryDocsPageLinkedFromAnotherPageExists()
    {
        var link = new Regex(@"\]\(([a-z0-9-]+\.md)(#[^)]*)?\)");
        var docs = Path.Combine(RepoPaths.Root, "docs");
        var missing = Directory.GetFiles(docs, "*.md")
            .SelectMany(f => link.Matches(File.ReadAllText(f)).Select(m => (File: f, Page: m.Groups[1].Value)))
            .Where(x => !File.Exists(Path.Combine(docs, x.Page)))
            .Select(x => $"{Relative(x.File)} → {x.Page}").ToList();
        Assert.True(missing.Count == 0, "broken links between docs pages: " + string.Join("; ", missing));
    }

    /// <summary>The README and docs pages name source files (<c>lib/…/X.cs</c>, and on the same line bare
    /// <c>`Y.cs`</c> beside it, meaning the same folder); every one must exist, so a move shows up here.</summary>
    [Fact]
    public void EverySourcePathTheDocsNameExists()
    {
        var full = new Regex(@"(?<![\w/])((?:lib|tests|scripts|notebooks|datasets)/[A-Za-z0-9_./-]*[A-Za-z0-9_])");
        var bare = new Regex(@"`([A-Z][A-Za-z0-9]*\.cs)`");
        var pages = Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md").Append(Path.Combine(RepoPaths.Root, "README.md"));
        var missing = new List<string>();
        int checkedPaths = 0;
        foreach (var page in pages)
            foreach (var line in File.ReadLines(page))
            {
                string? folder = null;
                foreach (Match m in full.Matches(line))
                {
                    var path = m.Groups[1].Value;
                    checkedPaths++;
                    var absolute = Path.Combine(RepoPaths.Root, path);
                    if (!File.Exists(absolute) && !Directory.Exists(absolute)) missing.Add($"{Relative(page)} → {path}");
                    if (path.EndsWith(".cs")) folder = Path.GetDirectoryName(path);
                }
                if (folder is null) continue;
                foreach (Match m in bare.Matches(line))
                {
                    var path = $"{folder}/{m.Groups[1].Value}";
                    checkedPaths++;
                    if (!File.Exists(Path.Combine(RepoPaths.Root, path))) missing.Add($"{Relative(page)} → {path}");
                }
            }
        Assert.True(checkedPaths > 20, $"expected the docs to name source files, found {checkedPaths}");
        Assert.True(missing.Count == 0, "paths named in the docs that do not exist: " + string.Join("; ", missing.Distinct()));
    }
}
