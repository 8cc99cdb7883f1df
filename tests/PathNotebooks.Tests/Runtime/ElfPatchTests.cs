using PathNotebooks.Runtime;

namespace PathNotebooks.Tests.Runtime;

public class ElfPatchTests
{
    static string GlueLibrary()
    {
        var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location)!;
        var path = new[] { Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(dir, "libLibTorchSharp.so") }
            .First(File.Exists);
        return path;
    }

    [Fact]
    public void MarksOnlyTheGlibcxx332NeedWeakOnACopy()
    {
        var original = GlueLibrary();
        var before = File.ReadAllBytes(original);
        var copy = (byte[])before.Clone();

        var needs = ElfVersionPatcher.ListVersionNeeds(copy);
        Assert.Contains(needs, n => n.Library == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4.32" && !n.Weak);

        Assert.Equal(1, ElfVersionPatcher.MarkVersionNeedWeak(copy, "GLIBCXX_3.4.32"));
        Assert.Equal(0, ElfVersionPatcher.MarkVersionNeedWeak(copy, "GLIBCXX_3.4.32"));   // idempotent
        var after = ElfVersionPatcher.ListVersionNeeds(copy);
        Assert.Equal(needs.Count, after.Count);
        for (int i = 0; i < needs.Count; i++)
            Assert.Equal(needs[i].Version == "GLIBCXX_3.4.32" || needs[i].Weak, after[i].Weak);

        // Exactly one 16-bit field changed, by the weak bit.
        var diffs = Enumerable.Range(0, copy.Length).Where(i => copy[i] != before[i]).ToList();
        Assert.Single(diffs);
        Assert.Equal(0x2, copy[diffs[0]] ^ before[diffs[0]]);
        Assert.Equal(before, File.ReadAllBytes(original));                              // the original is untouched
    }

    [Fact]
    public void RejectsNonElfInput()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionNeedWeak(new byte[100], "X"));
    }
}
