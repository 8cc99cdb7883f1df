using System.Runtime.InteropServices;

namespace PathNotebooks.Cli;

/// <summary>
/// Turns SIGTERM, SIGINT and SIGHUP (a scheduler, Ctrl+C, a closed terminal) into a cancellation, so a command that
/// owns child processes can kill them and clean up before it exits instead of dying and leaving orphans.
/// </summary>
sealed class Interruption : IDisposable
{
    readonly CancellationTokenSource cancel = new();
    readonly List<PosixSignalRegistration> registrations = new();
    PosixSignal? received;

    Interruption()
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP })
            registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
    }

    /// <summary>Starts watching; dispose to give the signals their default behaviour back.</summary>
    public static Interruption Watch() => new();

    /// <summary>Fires on the first signal.</summary>
    public CancellationToken Token => cancel.Token;

    /// <summary>The exit code a shell expects after the signal that arrived: 128 + its number (143 for SIGTERM).</summary>
    public int ExitCode => 128 + received switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        _ => 15,
    };

    /// <summary>The signal's name, for the message that says why the command stopped.</summary>
    public string SignalName => received?.ToString() ?? "SIGTERM";

    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;   // no immediate exit: the command cleans up and returns ExitCode
        received ??= context.Signal;
        cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        cancel.Dispose();
    }
}
