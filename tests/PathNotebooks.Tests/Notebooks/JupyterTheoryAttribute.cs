namespace PathNotebooks.Tests.Notebooks;

/// <summary>Skips a test, with the reason, on a machine without Jupyter's nbconvert (CI installs it: see .ci/run).</summary>
public sealed class JupyterTheoryAttribute : TheoryAttribute
{
    public JupyterTheoryAttribute()
    {
        if (Jupyter.MissingReason is { } reason) Skip = reason;
    }
}
