namespace PathNotebooks.IO;

/// <summary>Writes files so that an interrupted run never leaves a half-written result: temp file, then rename.</summary>
public static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> with a temporary path beside <paramref name="path"/>, then renames it into place.</summary>
    public static string Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            write(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        return full;
    }

    /// <summary>Writes text as UTF-8 (no BOM) atomically.</summary>
    public static string WriteText(string path, string text) =>
        Write(path, tmp => File.WriteAllText(tmp, text, new System.Text.UTF8Encoding(false)));
}
