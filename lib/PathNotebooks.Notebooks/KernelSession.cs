using System.Collections.Concurrent;
using System.Reactive.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace PathNotebooks.Notebooks;

/// <summary>
/// One .NET Interactive kernel in this process, set up the way the dotnet-interactive tool (what VS Code Polyglot and
/// Jupyter run) sets up its C# kernel: a <see cref="CompositeKernel"/> holding a <see cref="CSharpKernel"/> with the
/// NuGet directive (<c>#r "nuget: …"</c>, <c>#i</c>), the kernel helpers (<c>display(…)</c> in every cell), and loading
/// of the kernel extensions that packages ship in <c>interactive-extensions/dotnet</c>
/// (Plotly.NET.Interactive's chart formatter, Microsoft.Data.Analysis's table formatter).
/// </summary>
/// <remarks>
/// The tool's own builder lives in its app assembly (not on NuGet), so the few lines that matter are repeated here:
/// the C# kernel's nuget handler adds the resolved assemblies as references, and a middleware loads a package's
/// extensions after the command that added it. Everything else — parsing directives, restoring packages, compiling with
/// Roslyn scripting, formatting values to mime types — is the kernel's own code.
/// </remarks>
public sealed class KernelSession : IDisposable
{
    readonly CompositeKernel kernel;
    readonly HashSet<string> loadedExtensionAssemblies = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<string> packagesToCheckForExtensions = new();
    readonly ConcurrentQueue<string> extensionAssembliesToLoad = new();
    readonly IDisposable packageSubscription;

    public KernelSession()
    {
        var csharp = new CSharpKernel()
            .UseNugetDirective((k, resolved) =>
            {
                k.AddAssemblyReferences(resolved.SelectMany(r => r.AssemblyPaths));
                return Task.CompletedTask;
            })
            .UseKernelHelpers();

        // As the tool sets its formatters up for notebook front ends: HTML by default, strings as plain text.
        Formatter.DefaultMimeType = HtmlFormatter.MimeType;
        Formatter.SetPreferredMimeTypesFor(typeof(string), PlainTextFormatter.MimeType);

        kernel = new CompositeKernel { DefaultKernelName = "csharp" };
        kernel.Add(csharp, new[] { "c#", "C#" });

        packageSubscription = kernel.KernelEvents.OfType<PackageAdded>()
            .Where(p => p.PackageReference.PackageRoot is not null)
            .Subscribe(p => packagesToCheckForExtensions.Enqueue(p.PackageReference.PackageRoot));
        kernel.AddMiddleware(async (command, context, next) =>
        {
            await next(command, context);
            while (packagesToCheckForExtensions.TryDequeue(out var root))
            {
                var directory = Path.Combine(root, "interactive-extensions", "dotnet");
                if (!Directory.Exists(directory)) continue;
                foreach (var dll in Directory.GetFiles(directory, "*.dll", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal))
                    await LoadExtensionAsync(dll, context);
            }
            while (extensionAssembliesToLoad.TryDequeue(out var dll))
                await LoadExtensionAsync(dll, context);
        });
    }

    /// <summary>Everything the kernel reported while it ran one cell, in order.</summary>
    public sealed record CellEvents(IReadOnlyList<KernelEvent> Events, bool Succeeded);

    /// <summary>Submits one cell's code to the C# kernel and returns what it produced.</summary>
    /// <param name="code">The cell's source, directives included (the kernel handles them).</param>
    /// <param name="onEvent">Called for every event as it happens (live stdout, displays), before the cell finishes.</param>
    /// <param name="cancellationToken">Cancels the submission (the kernel stops the cell where it can).</param>
    public async Task<CellEvents> SubmitAsync(string code, Action<KernelEvent>? onEvent, CancellationToken cancellationToken)
    {
        var command = new SubmitCode(code, "csharp");
        using var live = onEvent == null ? null : kernel.KernelEvents.Subscribe(onEvent);
        var result = await kernel.SendAsync(command, cancellationToken);
        bool failed = result.Events.OfType<CommandFailed>().Any();
        return new CellEvents(result.Events.ToList(), !failed);
    }

    /// <summary>Loads the kernel extensions in these assemblies once the next submission has run (packages served from a folder).</summary>
    public void LoadExtensionsAfterNextSubmission(IEnumerable<string> assemblies)
    {
        foreach (var dll in assemblies) extensionAssembliesToLoad.Enqueue(dll);
    }

    async Task LoadExtensionAsync(string dll, KernelInvocationContext context)
    {
        if (!loadedExtensionAssemblies.Add(Path.GetFileName(dll))) return;
        // A package's extension assembly may be the package's own assembly, already referenced by the cell.
        var name = AssemblyName.GetAssemblyName(dll).Name;
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name)
                       ?? AssemblyLoadContext.Default.LoadFromAssemblyPath(dll);
        foreach (var type in assembly.ExportedTypes.Where(t => !t.IsAbstract && !t.IsInterface && typeof(IKernelExtension).IsAssignableFrom(t)))
        {
            KernelInvocationContextExtensions.Display(context, $"Loading extensions from `{assembly.Location}`", "text/plain");
            var extension = (IKernelExtension)Activator.CreateInstance(type)!;
            try
            {
                await extension.OnLoadAsync(kernel);
                context.Publish(new KernelExtensionLoaded(extension, context.Command));
            }
            catch (Exception e)
            {
                context.Fail(context.Command, e, $"Failed to load kernel extension \"{type.Name}\" from {assembly.Location}: {e.Message}");
            }
        }
    }

    public void Dispose()
    {
        packageSubscription.Dispose();
        kernel.Dispose();
    }
}
