namespace PathNotebooks.Tests;

/// <summary>
/// Tests that execute notebooks (each in its own kernel process, training small models) run one after another: on a
/// 2-core CI machine, running them side by side only stretches every cell towards its timeout.
/// </summary>
[CollectionDefinition("notebook runs")]
public sealed class NotebookRunsCollection { }
