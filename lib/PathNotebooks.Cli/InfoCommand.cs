using PathNotebooks.Runtime;

namespace PathNotebooks.Cli;

/// <summary>Options of `pathnb info`.</summary>
sealed record InfoOptions(string? Device);

/// <summary>`pathnb info`: what the torch runtime loads here, and the loader trace.</summary>
static class InfoCommand
{
    public static int Run(InfoOptions options)
    {
        var info = TorchRuntime.Initialize(options.Device);
        Console.WriteLine($"size default: {(info.IsCuda ? "full" : "tiny")}");
        Console.WriteLine(PathNotebooks.Cuda.CudaKernelHost.Shared.Status);
        Console.WriteLine("loader trace:");
        Console.WriteLine(TorchRuntime.LoadTrace);
        return 0;
    }
}
