using System.Diagnostics;

namespace PathNotebooks.Tests.Architecture.Fixture.Used;

/// <summary>
/// Fixture for <see cref="NamespaceGraph"/>: used by <see cref="User.UserThroughClosure"/> only inside a lambda, and
/// uses it back only through an attribute's <c>typeof</c> argument, which closes a cycle.
/// </summary>
[DebuggerTypeProxy(typeof(User.UserThroughClosure))]
static class UsedOnlyInBodies
{
    public static int Value() => 1;
}
