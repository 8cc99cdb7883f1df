using PathNotebooks.Experiments;

namespace PathNotebooks.Tests.Experiments;

public class ExerciseTests
{
    [Fact]
    public void AStudentCellReportsButNeverThrows()
    {
        var unanswered = Exercise.Check("Exercise 1", answered: false, correct: true, "the answer is 42");
        Assert.StartsWith("… Exercise 1: not answered yet", unanswered);
        Assert.DoesNotContain("42", unanswered);
        Assert.StartsWith("✓ Exercise 1: 3 = 3", Exercise.Check("Exercise 1", answered: true, correct: true, "3 = 3"));
        Assert.StartsWith("✗ Exercise 1: 3 ≠ 4", Exercise.Check("Exercise 1", answered: true, correct: false, "3 ≠ 4"));
    }

    [Fact]
    public void AWrongSolutionStopsTheRunAndNamesTheExercise()
    {
        Assert.StartsWith("✓ Exercise 2 (solution)", Exercise.Solved("Exercise 2", true, "ok"));
        var error = Assert.Throws<InvalidOperationException>(() => Exercise.Solved("Exercise 2", false, "0.5 ≠ 0.25"));
        Assert.Contains("Exercise 2", error.Message);
        Assert.Contains("0.5 ≠ 0.25", error.Message);
        Assert.Throws<ArgumentException>(() => Exercise.Check(" ", true, true, "x"));
    }
}
