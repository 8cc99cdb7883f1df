using System.Text.Json;
using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

public class DevcontainerTests
{
    static JsonNode Parse(string relative) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, relative)), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;

    [Theory]
    [InlineData(".devcontainer/devcontainer.json")]
    [InlineData(".devcontainer/gpu/devcontainer.json")]
    public void ParsesAndReferencesExistingFiles(string path)
    {
        var config = Parse(path);
        Assert.StartsWith("mcr.microsoft.com/devcontainers/dotnet:10", config["image"]?.GetValue<string>() ?? "");
        Assert.Contains("ms-dotnettools.csharp", config["customizations"]!["vscode"]!["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));
        var postCreate = config["postCreateCommand"]!.GetValue<string>();
        foreach (var word in postCreate.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w.Contains('/') && !w.StartsWith('-')))
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, word)) || Directory.Exists(Path.Combine(RepoPaths.Root, word)), $"{path}: postCreateCommand names '{word}', which does not exist");
    }

    [Fact]
    public void GpuConfigAsksForGpusAndTheCudaBackend()
    {
        var gpu = Parse(".devcontainer/gpu/devcontainer.json");
        Assert.Equal("optional", gpu["hostRequirements"]!["gpu"]!.GetValue<string>());
        Assert.Contains("--gpus", gpu["runArgs"]!.AsArray().Select(a => a!.GetValue<string>()));
        // The backend is a property of the environment, so the README's plain commands build with CUDA there too.
        Assert.Equal("cuda", gpu["containerEnv"]!["TorchBackend"]!.GetValue<string>());
        var cpu = Parse(".devcontainer/devcontainer.json");
        Assert.Null(cpu["runArgs"]);
        Assert.Equal("cpu", cpu["containerEnv"]!["TorchBackend"]!.GetValue<string>());
        // Both install Jupyter and register the kernel with the script the README gives classrooms.
        Assert.Contains("scripts/jupyter-kernel.sh", File.ReadAllText(Path.Combine(RepoPaths.Root, ".devcontainer", "post-create.sh")));
    }
}
