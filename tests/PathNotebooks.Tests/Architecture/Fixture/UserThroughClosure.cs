namespace PathNotebooks.Tests.Architecture.Fixture.User;

/// <summary>
/// Fixture for <see cref="NamespaceGraph"/>: its only use of <see cref="Used.UsedOnlyInBodies"/> is in the body of
/// a lambda, i.e. in a compiler-generated nested type.
/// </summary>
static class UserThroughClosure
{
    public static Func<int> Make() => () => Used.UsedOnlyInBodies.Value();
}
