using System.Diagnostics;
using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>
/// Headless Jupyter with the real .NET Interactive kernel, the way a classroom runs the course: the kernel tool installed
/// and registered by scripts/jupyter-kernel.sh (into a private kernel folder), notebooks executed by `jupyter nbconvert`.
/// </summary>
public static class Jupyter
{
    /// <summary>Why the Jupyter tests cannot run here, or null when they can.</summary>
    public static string? MissingReason { get; } = FindMissing();

    static string? FindMissing()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("jupyter", "nbconvert --version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit(60_000);
            return p.ExitCode == 0 ? null : "jupyter nbconvert does not run here (install jupyter-nbconvert python3-nbclient)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "Jupyter is not installed here (Debian: apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient; .ci/run does)";
        }
    }

    static readonly Lazy<Task<string>> JupyterPath = new(RegisterKernelAsync);

    /// <summary>Registers the kernel once per test run with the script the README gives users; returns the JUPYTER_PATH folder.</summary>
    static async Task<string> RegisterKernelAsync()
    {
        var path = RepoPaths.TempDir("jupyter-path");
        var (code, output) = await RunAsync("bash", RepoPaths.Root, null,
            Path.Combine(RepoPaths.Root, "scripts", "jupyter-kernel.sh"), "--no-build", "--kernels-dir", Path.Combine(path, "kernels"));
        Assert.True(code == 0, $"scripts/jupyter-kernel.sh failed ({code}):\n{output}");
        Assert.True(File.Exists(Path.Combine(path, "kernels", ".net-csharp", "kernel.json")), output);
        return path;
    }

    /// <summary>
    /// Executes <paramref name="notebook"/> with `jupyter nbconvert --execute` in the registered .NET C# kernel at size tiny
    /// on the CPU; returns nbconvert's exit code and output, and the executed notebook (null when none was written).
    /// </summary>
    public static async Task<(int Code, string Output, JsonNode? Executed, string ResultsDirectory)> ExecuteAsync(string notebook)
    {
        var jupyterPath = await JupyterPath.Value;
        var outDir = RepoPaths.TempDir("nbconvert-" + Path.GetFileNameWithoutExtension(notebook));
        var environment = new Dictionary<string, string>
        {
            ["JUPYTER_PATH"] = jupyterPath, ["PATHNB_SIZE"] = "tiny", ["PATHNB_DEVICE"] = "cpu", ["PATHNB_OUT"] = Path.Combine(outDir, "results"),
        };
        var (code, output) = await RunAsync("jupyter", Path.GetDirectoryName(notebook)!, environment,
            "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=.net-csharp",
            "--ExecutePreprocessor.timeout=900", "--output-dir", outDir, notebook);
        var executedPath = Path.Combine(outDir, Path.GetFileName(notebook));
        return (code, output, File.Exists(executedPath) ? JsonNode.Parse(File.ReadAllText(executedPath)) : null, Path.Combine(outDir, "results"));
    }

    static async Task<(int Code, string Output)> RunAsync(string file, string workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment != null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }
}
