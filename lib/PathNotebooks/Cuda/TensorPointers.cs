using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PathNotebooks.Cuda;

/// <summary>
/// Raw device addresses of TorchSharp tensors: the storage's base pointer plus the storage offset in bytes, from the
/// TorchSharp glue library this process already loaded (TorchSharp 0.107 keeps its own accessor protected). Kernels
/// take contiguous tensors only, so the address and the shape describe the whole tensor.
/// </summary>
internal static class TensorPointers
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr StorageDataFn(IntPtr tensor);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate long StorageOffsetFn(IntPtr tensor);

    static readonly Lazy<(StorageDataFn Data, StorageOffsetFn Offset)> calls = new(Find);

    /// <summary>The address of <paramref name="t"/>'s first element; <paramref name="t"/> must be contiguous.</summary>
    public static IntPtr Of(Tensor t, string name)
    {
        if (!t.is_contiguous()) throw new ArgumentException($"{name} must be contiguous for a fused kernel.", name);
        var (data, offset) = calls.Value;
        var basePointer = data(t.Handle);
        if (basePointer == IntPtr.Zero && t.numel() > 0) throw new CudaKernelException($"{name}: TorchSharp returned no storage pointer.");
        return basePointer + (nint)(offset(t.Handle) * t.element_size());
    }

    static (StorageDataFn, StorageOffsetFn) Find()
    {
        // The glue is loaded (TorchSharp needs it for every call); loading its path again returns the same handle.
        var glue = File.Exists("/proc/self/maps")
            ? File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(p => p.Length >= 6 && p[5].EndsWith("libLibTorchSharp.so", StringComparison.Ordinal)).Select(p => p[5]).FirstOrDefault()
            : null;
        if (glue is null || !NativeLibrary.TryLoad(glue, out var library))
            throw new CudaKernelException("the TorchSharp glue library (libLibTorchSharp.so) is not loaded in this process; call Kit.Init() (or TorchRuntime.Initialize) first.");
        return (NativeExports.Get<StorageDataFn>(library, "THSStorage_data_ptr"), NativeExports.Get<StorageOffsetFn>(library, "THSTensor_storage_offset"));
    }
}
