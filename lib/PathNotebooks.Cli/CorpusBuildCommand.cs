namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb corpus build`.</summary>
sealed record CorpusBuildOptions(string? Packs, string? Out);

/// <summary>`pathnb corpus build`: rebuilds the shipped English corpus from the .NET reference packs' XML docs.</summary>
static class CorpusBuildCommand
{
    public static int Run(CorpusBuildOptions options)
    {
        var packs = options.Packs ?? PathNotebooks.Data.CorpusBuilder.DefaultPacksRoot;
        var repo = Path.GetDirectoryName(Reproduce.FindNotebooksFolder()) ?? Directory.GetCurrentDirectory();
        var output = options.Out ?? Path.Combine(repo, "datasets", PathNotebooks.Data.TextCorpus.FileName);
        var info = PathNotebooks.Data.CorpusBuilder.Build(packs, output);
        Console.WriteLine(info);
        return 0;
    }
}
