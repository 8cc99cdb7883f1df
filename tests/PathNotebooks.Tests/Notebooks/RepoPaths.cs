namespace PathNotebooks.Tests.Notebooks;

/// <summary>Locations in the repository and of the built CLI, found from the test assembly.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PathNotebooks.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (PathNotebooks.sln) not found above " + AppContext.BaseDirectory);
    }

    public static string Notebooks => Path.Combine(Root, "notebooks");

    /// <summary>The pathnb CLI built beside the tests (the test project references it).</summary>
    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "pathnb.dll");

    public static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "pathnb-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
