using Mono.Cecil;

namespace PathNotebooks.Tests.Architecture;

/// <summary>
/// Which namespaces of one assembly use which others, read with Mono.Cecil from the compiled metadata and IL (what
/// the code really references, <c>using</c> lines and doc comments aside). A type counts under its outermost
/// declaring type, so nested and compiler-generated types (closures, iterators, async state machines) belong to the
/// type they were written in. Uses are: base types, interfaces, fields, properties, events, method signatures,
/// generic arguments and constraints, custom attributes (constructor and <c>typeof</c>/enum arguments), locals,
/// catch types, and every type, method and field an IL instruction names. Only namespaces under the root count; a
/// namespace using itself is dropped.
/// </summary>
sealed class NamespaceGraph
{
    readonly string root;
    readonly SortedDictionary<string, SortedDictionary<string, (string User, string Used)>> edges = new(StringComparer.Ordinal);
    readonly SortedSet<string> namespaces = new(StringComparer.Ordinal);
    TypeDefinition? user;                                     // the outermost type being read

    NamespaceGraph(string root) => this.root = root;

    /// <summary>Every namespace under the root that defines a type.</summary>
    public IReadOnlyCollection<string> Namespaces => namespaces;

    /// <summary>Namespace → namespaces it uses, each with one example (the ordinally first) of a type that uses a type
    /// there, as names relative to the root (e.g. <c>("Models.Block", "Mixers.TokenMixer")</c>).</summary>
    public IReadOnlyDictionary<string, SortedDictionary<string, (string User, string Used)>> Edges => edges;

    /// <summary>Reads the assembly at <paramref name="assemblyPath"/>; <paramref name="rootNamespace"/> and the
    /// namespaces below it are the nodes.</summary>
    public static NamespaceGraph Read(string assemblyPath, string rootNamespace)
    {
        var graph = new NamespaceGraph(rootNamespace);
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        foreach (var type in module.Types.Where(t => graph.InRoot(t.Namespace)))
        {
            graph.namespaces.Add(type.Namespace);
            graph.user = type;
            graph.Visit(type);
        }
        return graph;
    }

    /// <summary>
    /// Every elementary cycle, each as its namespaces in order (the first repeated at the end), starting at its
    /// ordinally smallest namespace; at most <paramref name="limit"/>.
    /// </summary>
    public List<List<string>> Cycles(int limit = 1000)
    {
        var cycles = new List<List<string>>();
        var path = new List<string>();
        foreach (var start in edges.Keys)
        {
            // Only namespaces after the start: each cycle is found once, from its smallest member.
            void Walk(string node)
            {
                path.Add(node);
                foreach (var next in Uses(node))
                {
                    if (cycles.Count >= limit) break;
                    if (next == start) cycles.Add(new List<string>(path) { start });
                    else if (string.CompareOrdinal(next, start) > 0 && !path.Contains(next)) Walk(next);
                }
                path.RemoveAt(path.Count - 1);
            }
            Walk(start);
        }
        return cycles;
    }

    /// <summary>"PathNotebooks.Models -> PathNotebooks.Mixers (Models.Block uses Mixers.TokenMixer)".</summary>
    public string Describe(string from, string to)
    {
        var (userType, usedType) = edges[from][to];
        return $"{from} -> {to} ({userType} uses {usedType})";
    }

    IEnumerable<string> Uses(string ns) => edges.TryGetValue(ns, out var targets) ? targets.Keys : Enumerable.Empty<string>();

    bool InRoot(string ns) => ns == root || ns.StartsWith(root + ".", StringComparison.Ordinal);

    string Relative(TypeReference type) => type.Namespace == root ? type.Name : type.FullName[(root.Length + 1)..];

    void Visit(TypeDefinition type)
    {
        Use(type.BaseType);
        foreach (var i in type.Interfaces) { Use(i.InterfaceType); Attributes(i); }
        Attributes(type);
        GenericParameters(type);
        foreach (var f in type.Fields) { Use(f.FieldType); Attributes(f); }
        foreach (var p in type.Properties) { Use(p.PropertyType); Attributes(p); }
        foreach (var e in type.Events) { Use(e.EventType); Attributes(e); }
        foreach (var m in type.Methods) Method(m);
        foreach (var nested in type.NestedTypes) Visit(nested);
    }

    void Method(MethodDefinition method)
    {
        Use(method.ReturnType);
        Attributes(method);
        Attributes(method.MethodReturnType);
        foreach (var p in method.Parameters) { Use(p.ParameterType); Attributes(p); }
        GenericParameters(method);
        foreach (var o in method.Overrides) Use(o);
        if (!method.HasBody) return;
        foreach (var v in method.Body.Variables) Use(v.VariableType);
        foreach (var h in method.Body.ExceptionHandlers) Use(h.CatchType);
        foreach (var instruction in method.Body.Instructions)
        {
            switch (instruction.Operand)
            {
                case TypeReference t: Use(t); break;
                case MethodReference m: Use(m); break;
                case FieldReference f: Use(f.DeclaringType); Use(f.FieldType); break;
                case CallSite c: Use(c.ReturnType); foreach (var p in c.Parameters) Use(p.ParameterType); break;
            }
        }
    }

    void Use(MethodReference method)
    {
        Use(method.DeclaringType);
        Use(method.ReturnType);
        foreach (var p in method.Parameters) Use(p.ParameterType);
        if (method is GenericInstanceMethod generic) foreach (var a in generic.GenericArguments) Use(a);
    }

    void GenericParameters(IGenericParameterProvider provider)
    {
        foreach (var g in provider.GenericParameters)
        {
            Attributes(g);
            foreach (var c in g.Constraints) { Use(c.ConstraintType); Attributes(c); }
        }
    }

    void Attributes(ICustomAttributeProvider provider)
    {
        foreach (var a in provider.CustomAttributes)
        {
            Use(a.Constructor);
            foreach (var arg in a.ConstructorArguments) Argument(arg);
            foreach (var named in a.Fields.Concat(a.Properties)) Argument(named.Argument);
        }
    }

    void Argument(CustomAttributeArgument argument)
    {
        Use(argument.Type);
        switch (argument.Value)
        {
            case TypeReference t: Use(t); break;                                   // typeof(X)
            case CustomAttributeArgument boxed: Argument(boxed); break;            // an object-typed argument
            case CustomAttributeArgument[] array: foreach (var item in array) Argument(item); break;
        }
    }

    void Use(TypeReference? type)
    {
        switch (type)
        {
            case null or GenericParameter: return;
            case GenericInstanceType generic:
                Use(generic.ElementType);
                foreach (var a in generic.GenericArguments) Use(a);
                return;
            case FunctionPointerType pointer:
                Use(pointer.ReturnType);
                foreach (var p in pointer.Parameters) Use(p.ParameterType);
                return;
            case IModifierType modified:                                            // modreq/modopt
                Use(modified.ModifierType);
                Use(modified.ElementType);
                return;
            case TypeSpecification specification:                                   // arrays, by-ref, pointers
                Use(specification.ElementType);
                return;
        }
        var outer = type;
        while (outer.DeclaringType != null) outer = outer.DeclaringType;
        // Only this assembly's own types (a reference's scope is another assembly).
        if (outer.Scope is not ModuleDefinition || !InRoot(outer.Namespace)) return;
        string from = user!.Namespace, to = outer.Namespace;
        if (from == to) return;
        if (!edges.TryGetValue(from, out var targets)) edges[from] = targets = new(StringComparer.Ordinal);
        var example = (Relative(user), Relative(outer));
        if (!targets.TryGetValue(to, out var known) || string.CompareOrdinal($"{example}", $"{known}") < 0) targets[to] = example;
    }
}
