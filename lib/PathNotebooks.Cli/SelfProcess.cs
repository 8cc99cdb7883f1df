using System.Diagnostics;

namespace PathNotebooks.Cli;

/// <summary>Starts this same program as a child process (one notebook per process).</summary>
static class SelfProcess
{
    public static async Task<int> RunAsync(IEnumerable<string> arguments, Action<string> onLine, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var host = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.FileName = host;
            psi.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        }
        else psi.FileName = host;
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        if (environment != null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start a child process");
        p.OutputDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        await p.WaitForExitAsync();
        return p.ExitCode;
    }
}
