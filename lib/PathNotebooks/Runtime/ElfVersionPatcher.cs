using System.Buffers.Binary;
using System.Text;

namespace PathNotebooks.Runtime;

/// <summary>
/// Marks a symbol-version requirement of an ELF64 shared library as weak (VER_FLG_WEAK), so that the dynamic
/// loader accepts a host library that lacks that version.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against libstdc++ 13 and records one reference to
/// <c>GLIBCXX_3.4.32</c> (for <c>std::ios_base_library_init</c>, emitted only to force iostream set-up and
/// never called). Debian 12 and Ubuntu 22.04 ship GLIBCXX_3.4.30, so the load fails. A weak version need is
/// reported as a warning instead of an error. Only the 16-bit <c>vna_flags</c> of one Vernaux entry changes.
/// Layout walked: section headers → SHT_GNU_verneed section → Verneed list (vn_cnt, vn_aux, vn_next) →
/// Vernaux list (vna_hash, vna_flags, vna_other, vna_name, vna_next); names index the linked string table.
/// </remarks>
public static class ElfVersionPatcher
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>Version names required by the library (e.g. "GLIBCXX_3.4.32"), with their weak flag.</summary>
    public static IReadOnlyList<(string Library, string Version, bool Weak)> ListVersionNeeds(byte[] elf)
    {
        var needs = new List<(string, string, bool)>();
        Walk(elf, (lib, ver, flagsOffset) =>
            needs.Add((lib, ver, (BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset)) & VerFlgWeak) != 0)));
        return needs;
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on every version need named <paramref name="version"/>. Returns how many entries were
    /// changed (0 when none exist or all were already weak). The array is modified in place.
    /// </summary>
    public static int MarkVersionNeedWeak(byte[] elf, string version)
    {
        ArgumentNullException.ThrowIfNull(elf);
        ArgumentException.ThrowIfNullOrEmpty(version);
        int changed = 0;
        Walk(elf, (_, ver, flagsOffset) =>
        {
            if (ver != version) return;
            var span = elf.AsSpan(flagsOffset, 2);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(span);
            if ((flags & VerFlgWeak) != 0) return;
            BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(flags | VerFlgWeak));
            changed++;
        });
        return changed;
    }

    static void Walk(byte[] elf, Action<string, string, int> onVernaux)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("elf: not an ELF file (bad magic).");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("elf: only little-endian ELF64 files are supported.");
        var s = elf.AsSpan();
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(s[0x28..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3A..]);
        ushort shnum = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3C..]);
        if (shoff == 0 || shentsize < 64 || shoff + (ulong)shentsize * shnum > (ulong)elf.Length)
            throw new InvalidDataException("elf: section header table missing or truncated.");

        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(s[(sh + 4)..]);
            if (type != ShtGnuVerneed) continue;
            int offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(s[(sh + 0x18)..]));
            uint link = BinaryPrimitives.ReadUInt32LittleEndian(s[(sh + 0x28)..]);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[(sh + 0x2C)..]);
            int strSh = checked((int)shoff + (int)link * shentsize);
            int strOffset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(s[(strSh + 0x18)..]));

            int vn = offset;
            for (uint n = 0; n < count; n++)
            {
                ushort vnCnt = BinaryPrimitives.ReadUInt16LittleEndian(s[(vn + 2)..]);
                uint vnFile = BinaryPrimitives.ReadUInt32LittleEndian(s[(vn + 4)..]);
                uint vnAux = BinaryPrimitives.ReadUInt32LittleEndian(s[(vn + 8)..]);
                uint vnNext = BinaryPrimitives.ReadUInt32LittleEndian(s[(vn + 12)..]);
                string lib = ReadCString(elf, strOffset + (int)vnFile);
                int aux = vn + (int)vnAux;
                for (int a = 0; a < vnCnt; a++)
                {
                    uint vnaName = BinaryPrimitives.ReadUInt32LittleEndian(s[(aux + 8)..]);
                    uint vnaNext = BinaryPrimitives.ReadUInt32LittleEndian(s[(aux + 12)..]);
                    onVernaux(lib, ReadCString(elf, strOffset + (int)vnaName), aux + 4);
                    if (vnaNext == 0) break;
                    aux += (int)vnaNext;
                }
                if (vnNext == 0) break;
                vn += (int)vnNext;
            }
        }
    }

    static string ReadCString(byte[] data, int offset)
    {
        int end = Array.IndexOf(data, (byte)0, offset);
        if (end < 0) throw new InvalidDataException("elf: unterminated string in string table.");
        return Encoding.ASCII.GetString(data, offset, end - offset);
    }

    /// <summary>True when the file's bytes define the given version string (e.g. libstdc++ and "GLIBCXX_3.4.32").</summary>
    public static bool FileMentionsVersion(string path, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        var bytes = File.ReadAllBytes(path);
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }
}
