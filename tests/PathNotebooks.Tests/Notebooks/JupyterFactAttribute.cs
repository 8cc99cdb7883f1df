namespace PathNotebooks.Tests.Notebooks;

/// <inheritdoc cref="JupyterTheoryAttribute"/>
public sealed class JupyterFactAttribute : FactAttribute
{
    public JupyterFactAttribute()
    {
        if (Jupyter.MissingReason is { } reason) Skip = reason;
    }
}
