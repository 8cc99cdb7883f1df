using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PathNotebooks.Data;

/// <summary>What <see cref="CorpusBuilder.Build"/> wrote.</summary>
/// <param name="OutputPath">the written file (gzip if it ends in <c>.gz</c>, else plain UTF-8)</param>
/// <param name="Source">the reference-pack folder that was read, e.g. <c>…/Microsoft.NETCore.App.Ref/10.0.12/ref/net10.0</c></param>
/// <param name="PackVersion">version of the reference pack, e.g. <c>10.0.12</c></param>
/// <param name="SourceFiles">number of XML documentation files read</param>
/// <param name="Documents">number of lines (one API member's prose per line) in the corpus</param>
/// <param name="TextBytes">size of the UTF-8 text (uncompressed)</param>
/// <param name="FileBytes">size of the written file</param>
/// <param name="TextSha256">SHA-256 (lower-case hex) of the uncompressed UTF-8 text: what <see cref="TextCorpus"/> verifies</param>
/// <param name="FileSha256">SHA-256 of the written file (depends on the zlib build when compressed)</param>
public sealed record CorpusInfo(
    string OutputPath, string Source, string PackVersion, int SourceFiles, int Documents,
    long TextBytes, long FileBytes, string TextSha256, string FileSha256);

/// <summary>
/// Builds the kit's English text corpus from the XML API documentation that ships inside the .NET reference pack
/// (<c>packs/Microsoft.NETCore.App.Ref/&lt;version&gt;/ref/net10.0/*.xml</c>), so no download is ever needed.
/// </summary>
/// <remarks>
/// Per API member the prose of <c>summary</c>, <c>remarks</c>, <c>param</c>, <c>returns</c> and <c>value</c> is
/// extracted (code blocks dropped, <c>&lt;see cref&gt;</c>/<c>&lt;paramref&gt;</c>/<c>langword</c> turned into plain
/// names, whitespace collapsed). Paragraphs shorter than <see cref="MinParagraphChars"/> or already seen anywhere
/// earlier are dropped (the packs repeat boiler-plate such as "The object to compare with the current object.").
/// A member's remaining paragraphs form one line. To reach the target size (the <c>targetBytes</c> argument of <see cref="CorpusBuilder.Build"/>) members are kept by a
/// stable hash of their documentation id (SHA-256, so the choice is spread over all assemblies and identical
/// on every machine). Same pack version → same text, byte for byte.
/// </remarks>
public static class CorpusBuilder
{
    /// <summary>Default size of the corpus text: about 3 MB of UTF-8.</summary>
    public const long DefaultTargetBytes = 3_000_000;

    /// <summary>Paragraphs shorter than this (characters) are dropped.</summary>
    public const int MinParagraphChars = 20;

    static readonly string[] ProseElements = { "summary", "remarks", "param", "returns", "value" };

    /// <summary>
    /// The <c>packs</c> folder of the running .NET installation (DOTNET_ROOT, else two folders above the runtime
    /// directory <c>…/shared/Microsoft.NETCore.App/&lt;v&gt;/</c>).
    /// </summary>
    public static string DefaultPacksRoot
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && Directory.Exists(Path.Combine(root, "packs")))
                return Path.Combine(root, "packs");
            var runtimeDir = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
            var dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
            return Path.Combine(dotnetRoot, "packs");
        }
    }

    /// <summary>
    /// Reads the newest <c>Microsoft.NETCore.App.Ref/10.*</c> pack under <paramref name="packsRoot"/> and writes the
    /// corpus to <paramref name="outputPath"/> (gzip when the name ends in <c>.gz</c>; written atomically).
    /// </summary>
    /// <param name="packsRoot">the dotnet <c>packs</c> folder (see <see cref="DefaultPacksRoot"/>)</param>
    /// <param name="outputPath">e.g. <c>datasets/dotnet-api-docs.txt.gz</c></param>
    /// <param name="targetBytes">approximate size of the text; ≤ 0 keeps every member</param>
    public static CorpusInfo Build(string packsRoot, string outputPath, long targetBytes = DefaultTargetBytes)
    {
        if (string.IsNullOrWhiteSpace(packsRoot)) throw new ArgumentException("packsRoot must name the dotnet 'packs' folder.", nameof(packsRoot));
        if (string.IsNullOrWhiteSpace(outputPath)) throw new ArgumentException("outputPath must be a file path.", nameof(outputPath));
        var (refDir, version) = FindReferencePack(packsRoot);
        var files = Directory.GetFiles(refDir, "*.xml").OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"No XML documentation files in {refDir}.");

        var members = ExtractMembers(files);
        var text = Assemble(members, targetBytes, out int documents);
        var bytes = new UTF8Encoding(false).GetBytes(text);

        var full = IO.AtomicFile.Write(outputPath, tmp =>
        {
            using var file = File.Create(tmp);
            if (outputPath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                using var gz = new GZipStream(file, CompressionLevel.SmallestSize);
                gz.Write(bytes, 0, bytes.Length);
            }
            else file.Write(bytes, 0, bytes.Length);
        });
        return new CorpusInfo(full, refDir, version, files.Length, documents, bytes.LongLength,
            new FileInfo(full).Length, Sha256Hex(bytes), Sha256Hex(File.ReadAllBytes(full)));
    }

    /// <summary>Lower-case hex SHA-256 of <paramref name="data"/>.</summary>
    public static string Sha256Hex(byte[] data)
    {
        using var sha = SHA256.Create();
        return Convert.ToHexString(sha.ComputeHash(data)).ToLowerInvariant();
    }

    static (string RefDir, string Version) FindReferencePack(string packsRoot)
    {
        var packDir = Path.Combine(packsRoot, "Microsoft.NETCore.App.Ref");
        if (!Directory.Exists(packDir))
            throw new DirectoryNotFoundException($"No Microsoft.NETCore.App.Ref folder under '{packsRoot}' (expected the dotnet 'packs' folder, e.g. /usr/share/dotnet/packs).");
        var candidates = Directory.GetDirectories(packDir)
            .Select(d => (Dir: d, Version: Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
            .Where(c => c.Version is { Major: 10 })
            .OrderByDescending(c => c.Version)
            .ToList();
        foreach (var (dir, _) in candidates)
        {
            var refDir = Path.Combine(dir, "ref", "net10.0");
            if (Directory.Exists(refDir)) return (refDir, Path.GetFileName(dir));
        }
        throw new DirectoryNotFoundException($"No Microsoft.NETCore.App.Ref/10.*/ref/net10.0 folder under '{packsRoot}'.");
    }

    sealed record Member(string Id, List<string> Paragraphs);

    static List<Member> ExtractMembers(string[] files)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var members = new List<Member>();
        foreach (var file in files)
        {
            var doc = XDocument.Load(file, LoadOptions.PreserveWhitespace);
            foreach (var member in doc.Descendants("member"))
            {
                var id = (string?)member.Attribute("name") ?? "";
                var paragraphs = new List<string>();
                foreach (var element in member.Elements())
                {
                    if (Array.IndexOf(ProseElements, element.Name.LocalName) < 0) continue;
                    var prose = Normalise(ProseOf(element));
                    if (prose.Length < MinParagraphChars || prose.StartsWith("To be added", StringComparison.Ordinal)) continue;
                    if (seen.Add(prose)) paragraphs.Add(prose);
                }
                if (paragraphs.Count > 0) members.Add(new Member(id, paragraphs));
            }
        }
        return members;
    }

    static string Assemble(List<Member> members, long targetBytes, out int documents)
    {
        var lines = members.Select(m => (m.Id, Line: string.Join(" ", m.Paragraphs))).ToList();
        long total = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l.Line) + 1);
        double keepFraction = targetBytes <= 0 || total <= targetBytes ? 1.0 : (double)targetBytes / total;
        var sb = new StringBuilder();
        documents = 0;
        foreach (var (id, line) in lines)
        {
            if (keepFraction < 1.0 && StableUnit(id) >= keepFraction) continue;
            sb.Append(line).Append('\n');
            documents++;
        }
        return sb.ToString();
    }

    /// <summary>A number in [0, 1) from the SHA-256 of <paramref name="key"/>: the same on every machine and run.</summary>
    static double StableUnit(string key)
    {
        using var sha = SHA256.Create();
        var h = sha.ComputeHash(Encoding.UTF8.GetBytes(key));
        ulong v = BitConverter.ToUInt64(h, 0) >> 11;                       // 53 bits
        return v / (double)(1UL << 53);
    }

    /// <summary>Plain text of a documentation element: references become names, code is dropped.</summary>
    static string ProseOf(XElement element)
    {
        var sb = new StringBuilder();
        Append(element, sb);
        return sb.ToString();
    }

    static void Append(XElement element, StringBuilder sb)
    {
        foreach (var node in element.Nodes())
        {
            switch (node)
            {
                case XText text:
                    sb.Append(text.Value);
                    break;
                case XElement child:
                    switch (child.Name.LocalName)
                    {
                        case "code":
                            sb.Append(' ');
                            break;
                        case "see" or "seealso" or "xref" or "paramref" or "typeparamref":
                            if (child.Nodes().Any()) Append(child, sb);
                            else sb.Append(ReferenceName(child));
                            break;
                        case "para" or "p" or "br" or "item" or "li" or "listheader" or "term" or "description":
                            sb.Append(' ');
                            Append(child, sb);
                            sb.Append(' ');
                            break;
                        default:                                                // c, sub, sup, strong, em, a, list, …
                            Append(child, sb);
                            break;
                    }
                    break;
            }
        }
    }

    /// <summary><c>cref="M:System.Linq.Enumerable.Sum``1(…)"</c> → <c>Enumerable.Sum</c>; <c>T:System.String</c> → <c>String</c>.</summary>
    static string ReferenceName(XElement reference)
    {
        var langword = (string?)reference.Attribute("langword");
        if (!string.IsNullOrEmpty(langword)) return langword;
        var name = (string?)reference.Attribute("name");
        if (!string.IsNullOrEmpty(name)) return name;
        var cref = (string?)reference.Attribute("cref") ?? (string?)reference.Attribute("uid") ?? (string?)reference.Attribute("href") ?? "";
        if (cref.Length > 2 && cref[1] == ':') cref = cref[2..];
        int paren = cref.IndexOf('(');
        if (paren >= 0) cref = cref[..paren];
        cref = Regex.Replace(cref, @"`+\d+", "");
        cref = Regex.Replace(cref, @"\{[^}]*\}", "");
        var parts = cref.Split('.', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return "";
        bool isMember = reference.Attribute("cref")?.Value is { Length: > 2 } c && c[0] is 'M' or 'P' or 'F' or 'E' && c[1] == ':';
        if (isMember && parts.Length >= 2)
        {
            var member = parts[^1] == "#ctor" ? parts[^2] : parts[^1].TrimStart('#');
            return parts[^1] == "#ctor" ? member : $"{parts[^2]}.{member}";
        }
        return parts[^1];
    }

    static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled);
    static readonly Regex SpaceBeforePunctuation = new(@" (?=[.,;:!?)](?:\s|$))", RegexOptions.Compiled);

    static string Normalise(string text)
    {
        var s = Whitespace.Replace(text, " ").Trim();
        s = SpaceBeforePunctuation.Replace(s, "");
        return s.Replace("( ", "(");
    }
}
