namespace PathNotebooks.Notebooks.Kernel;

/// <summary>
/// <c>x.Display()</c> as in Polyglot. Lives in its own namespace, imported only by the kit's runner, so that it never
/// clashes with the real kernel's extension of the same name when the notebook runs in Polyglot.
/// </summary>
public static class DisplayExtensions
{
    public static DisplayedValue Display(this object value, params string[] mimeTypes) =>
        (NotebookGlobals.Current ?? throw new InvalidOperationException("Display() works only while the kit's notebook runner executes a cell."))
        .display(value, mimeTypes);
}
