using System.Security.Cryptography;
using System.Text;

namespace PathNotebooks.Cuda;

/// <summary>
/// Compiled kernel modules (cubin) on disk, so that NVRTC runs once per source, GPU architecture, compiler version and
/// option set. The key is a SHA-256 of all four; a file is written to a temporary name and renamed, so a crash never
/// leaves a half-written module behind and two processes compiling at once both end with a whole file.
/// </summary>
public sealed class KernelCache
{
    /// <summary>The cache folder (created on first write).</summary>
    public string Folder { get; }

    /// <param name="folder">where modules live; the kit uses <see cref="DefaultFolder"/></param>
    public KernelCache(string folder) => Folder = folder;

    /// <summary><c>$XDG_CACHE_HOME/pathnotebooks/cuda</c>, else <c>~/.cache/pathnotebooks/cuda</c>.</summary>
    public static string DefaultFolder()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "pathnotebooks", "cuda");
    }

    /// <summary>The cache key: lower-case hex SHA-256 over the source, the architecture (e.g. "sm_90"), the NVRTC version and the options.</summary>
    public static string Key(string source, string architecture, string compilerVersion, IEnumerable<string> options)
    {
        var text = new StringBuilder()
            .Append("source\0").Append(source).Append('\0')
            .Append("arch\0").Append(architecture).Append('\0')
            .Append("nvrtc\0").Append(compilerVersion).Append('\0');
        foreach (var o in options) text.Append("option\0").Append(o).Append('\0');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))).ToLowerInvariant();
    }

    /// <summary>The file a key's module is stored in.</summary>
    public string PathOf(string key) => Path.Combine(Folder, key + ".cubin");

    /// <summary>The stored module for <paramref name="key"/>, or null.</summary>
    public byte[]? TryRead(string key)
    {
        var path = PathOf(key);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>Stores a module: written to a temporary file in the same folder, then renamed over the final name.</summary>
    public void Write(string key, byte[] module)
    {
        Directory.CreateDirectory(Folder);
        var final = PathOf(key);
        var temporary = Path.Combine(Folder, $".{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temporary, module);
            File.Move(temporary, final, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
