namespace PathNotebooks.Experiments;

/// <summary>
/// Automatic checks for the notebooks' exercises. A student's cell calls <see cref="Check"/>: it reports ✓, ✗ or
/// "not answered yet" and never stops the notebook. The worked solution at the end of the notebook calls
/// <see cref="Solved"/> with the same check: a solution that fails it stops the run, so CI proves every solution right.
/// </summary>
public static class Exercise
{
    /// <summary>The line a student's exercise cell shows.</summary>
    /// <param name="name">the exercise, e.g. "Exercise 2"</param>
    /// <param name="answered">false while the answer is still the placeholder</param>
    /// <param name="correct">the check's verdict on the answer (ignored while unanswered)</param>
    /// <param name="detail">what was checked, with the numbers (shown once answered)</param>
    public static string Check(string name, bool answered, bool correct, string detail)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        // Unanswered: no detail, which would give the answer away before the student has committed to one.
        if (!answered) return $"… {name}: not answered yet — replace the placeholder and run the cell again.";
        return correct ? $"✓ {name}: {detail}" : $"✗ {name}: {detail}";
    }

    /// <summary>The line a worked solution shows; throws when the solution fails its own check.</summary>
    /// <param name="name">the exercise, e.g. "Exercise 2"</param>
    /// <param name="correct">the check's verdict on the solution</param>
    /// <param name="detail">what was checked, with the numbers</param>
    /// <exception cref="InvalidOperationException">when <paramref name="correct"/> is false</exception>
    public static string Solved(string name, bool correct, string detail)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return correct ? $"✓ {name} (solution): {detail}"
            : throw new InvalidOperationException($"The solution to {name} fails its check: {detail}");
    }
}
