using System.Reflection;
using System.Runtime.Loader;

namespace PathNotebooks.Runtime;

/// <summary>
/// Lets Plotly.NET run inside the .NET Interactive kernel, which carries its own, older FSharp.Core.
/// </summary>
/// <remarks>
/// Plotly.NET 6.0.0 (and its DynamicObj) are compiled against FSharp.Core 10.1, while the kernel tool 1.0.712001 loads
/// FSharp.Core 10.0 for its F# kernel before any notebook code runs. Only one FSharp.Core can live in the default load
/// context, so the first chart failed with "Could not load file or assembly 'FSharp.Core, Version=10.1.0.0'". When that
/// bind fails, this handler answers with the process's own FSharp.Core — the one already loaded, or else the one the
/// host ships (versionless load from the default context) — provided it has the same major version (the 10.x line keeps
/// its API; Plotly.NET uses nothing added in 10.1). Outside a kernel the bind never fails (the app's own FSharp.Core is
/// 10.1) and the handler is never called.
/// </remarks>
internal static class FSharpCoreBinding
{
    static int installed;
    [ThreadStatic] static bool resolving;                                   // the versionless load below must not re-enter

    /// <summary>Installs the handler once per process.</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        AssemblyLoadContext.Default.Resolving += Resolve;
    }

    static Assembly? Resolve(AssemblyLoadContext context, AssemblyName wanted)
    {
        if (wanted.Name != "FSharp.Core" || resolving) return null;
        var own = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => a.GetName().Name == "FSharp.Core" && AssemblyLoadContext.GetLoadContext(a) == AssemblyLoadContext.Default)
            .OrderByDescending(a => a.GetName().Version)
            .FirstOrDefault();
        if (own == null)
        {
            resolving = true;
            try { own = AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName("FSharp.Core")); }
            catch (IOException) { return null; }                             // the host has none: nothing to offer
            finally { resolving = false; }
        }
        return own.GetName().Version?.Major == wanted.Version?.Major ? own : null;
    }
}
