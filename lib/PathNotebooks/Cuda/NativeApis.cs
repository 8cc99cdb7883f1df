using System.Runtime.InteropServices;

namespace PathNotebooks.Cuda;

/// <summary>Typed entry points of a native library loaded at run time (the driver, NVRTC, the TorchSharp glue).</summary>
internal static class NativeExports
{
    /// <summary>The export <paramref name="symbol"/> of <paramref name="library"/> as a delegate; throws EntryPointNotFoundException when missing.</summary>
    public static T Get<T>(IntPtr library, string symbol) where T : Delegate =>
        Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, symbol));
}

/// <summary>A failed CUDA driver or NVRTC call, naming the kernel, the call and the library's own message.</summary>
public sealed class CudaKernelException(string message) : Exception(message);

/// <summary>
/// The few CUDA driver calls the kernels need (libcuda.so.1, loaded at run time; nothing links against it): the
/// primary context libtorch also uses, module loading, launches on the default stream (the stream libtorch's ops use,
/// so kernels and libtorch ops stay ordered).
/// </summary>
internal sealed class CudaDriver
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int InitFn(uint flags);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int DeviceGetFn(out int device, int ordinal);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int DeviceGetAttributeFn(out int value, int attribute, int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int PrimaryCtxRetainFn(out IntPtr context, int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int CtxSetCurrentFn(IntPtr context);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int ModuleLoadDataFn(out IntPtr module, IntPtr image);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int ModuleGetFunctionFn(out IntPtr function, IntPtr module, [MarshalAs(UnmanagedType.LPUTF8Str)] string name);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int FuncSetAttributeFn(IntPtr function, int attribute, int value);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int LaunchKernelFn(IntPtr function, uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint sharedBytes, IntPtr stream, IntPtr parameters, IntPtr extra);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int GetErrorNameFn(int result, out IntPtr name);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int DriverGetVersionFn(out int version);

    const int AttributeComputeMajor = 75, AttributeComputeMinor = 76, AttributeMaxSharedPerBlockOptin = 97;
    const int FunctionAttributeMaxDynamicShared = 8;

    readonly InitFn init;
    readonly DeviceGetFn deviceGet;
    readonly DeviceGetAttributeFn deviceGetAttribute;
    readonly PrimaryCtxRetainFn primaryCtxRetain;
    readonly CtxSetCurrentFn ctxSetCurrent;
    readonly ModuleLoadDataFn moduleLoadData;
    readonly ModuleGetFunctionFn moduleGetFunction;
    readonly FuncSetAttributeFn funcSetAttribute;
    readonly LaunchKernelFn launchKernel;
    readonly GetErrorNameFn getErrorName;
    readonly DriverGetVersionFn driverGetVersion;
    readonly Dictionary<int, IntPtr> contexts = new();

    CudaDriver(IntPtr library)
    {
        T Get<T>(string symbol) where T : Delegate => NativeExports.Get<T>(library, symbol);
        init = Get<InitFn>("cuInit");
        deviceGet = Get<DeviceGetFn>("cuDeviceGet");
        deviceGetAttribute = Get<DeviceGetAttributeFn>("cuDeviceGetAttribute");
        primaryCtxRetain = Get<PrimaryCtxRetainFn>("cuDevicePrimaryCtxRetain");
        ctxSetCurrent = Get<CtxSetCurrentFn>("cuCtxSetCurrent");
        moduleLoadData = Get<ModuleLoadDataFn>("cuModuleLoadData");
        moduleGetFunction = Get<ModuleGetFunctionFn>("cuModuleGetFunction");
        funcSetAttribute = Get<FuncSetAttributeFn>("cuFuncSetAttribute");
        launchKernel = Get<LaunchKernelFn>("cuLaunchKernel");
        getErrorName = Get<GetErrorNameFn>("cuGetErrorName");
        driverGetVersion = Get<DriverGetVersionFn>("cuDriverGetVersion");
    }

    /// <summary>The driver, or null with the reason (no libcuda, or cuInit failed).</summary>
    public static CudaDriver? TryLoad(out string reason)
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var library))
        {
            reason = "the CUDA driver (libcuda.so.1) could not be loaded";
            return null;
        }
        try
        {
            var driver = new CudaDriver(library);
            int r = driver.init(0);
            if (r != 0) { reason = $"cuInit failed: {driver.ErrorName(r)}"; return null; }
            reason = "";
            return driver;
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"libcuda.so.1 lacks a driver call: {e.Message}";
            return null;
        }
    }

    /// <summary>The driver's CUDA version as "major.minor".</summary>
    public string Version => driverGetVersion(out int v) == 0 ? $"{v / 1000}.{v % 1000 / 10}" : "unknown";

    string ErrorName(int result) => getErrorName(result, out var name) == 0 && name != IntPtr.Zero ? Marshal.PtrToStringUTF8(name)! : $"error {result}";

    void Check(int result, string call, string what)
    {
        if (result != 0) throw new CudaKernelException($"{what}: {call} failed with {ErrorName(result)}.");
    }

    /// <summary>(major, minor) compute capability of device <paramref name="ordinal"/>.</summary>
    public (int Major, int Minor) ComputeCapability(int ordinal)
    {
        Check(deviceGet(out int device, ordinal), "cuDeviceGet", $"CUDA device {ordinal}");
        Check(deviceGetAttribute(out int major, AttributeComputeMajor, device), "cuDeviceGetAttribute", $"CUDA device {ordinal}");
        Check(deviceGetAttribute(out int minor, AttributeComputeMinor, device), "cuDeviceGetAttribute", $"CUDA device {ordinal}");
        return (major, minor);
    }

    /// <summary>The most dynamic shared memory one block may opt in to on device <paramref name="ordinal"/>, in bytes.</summary>
    public int MaxSharedBytesPerBlock(int ordinal)
    {
        Check(deviceGet(out int device, ordinal), "cuDeviceGet", $"CUDA device {ordinal}");
        Check(deviceGetAttribute(out int bytes, AttributeMaxSharedPerBlockOptin, device), "cuDeviceGetAttribute", $"CUDA device {ordinal}");
        return bytes;
    }

    /// <summary>Makes device <paramref name="ordinal"/>'s primary context (the one the CUDA runtime, hence libtorch, uses) current on this thread.</summary>
    public void UseDevice(int ordinal)
    {
        lock (contexts)
        {
            if (!contexts.TryGetValue(ordinal, out var context))
            {
                Check(deviceGet(out int device, ordinal), "cuDeviceGet", $"CUDA device {ordinal}");
                Check(primaryCtxRetain(out context, device), "cuDevicePrimaryCtxRetain", $"CUDA device {ordinal}");
                contexts[ordinal] = context;
            }
            Check(ctxSetCurrent(context), "cuCtxSetCurrent", $"CUDA device {ordinal}");
        }
    }

    /// <summary>Loads a cubin into the current context.</summary>
    public IntPtr LoadModule(byte[] image, string what)
    {
        var pinned = GCHandle.Alloc(image, GCHandleType.Pinned);
        try
        {
            Check(moduleLoadData(out var module, pinned.AddrOfPinnedObject()), "cuModuleLoadData", what);
            return module;
        }
        finally { pinned.Free(); }
    }

    /// <summary>A kernel of a loaded module, allowed <paramref name="maxSharedBytes"/> of dynamic shared memory.</summary>
    public IntPtr Function(IntPtr module, string entry, int maxSharedBytes)
    {
        Check(moduleGetFunction(out var function, module, entry), "cuModuleGetFunction", entry);
        if (maxSharedBytes > 48 * 1024)
            Check(funcSetAttribute(function, FunctionAttributeMaxDynamicShared, maxSharedBytes), "cuFuncSetAttribute(max dynamic shared memory)", entry);
        return function;
    }

    /// <summary>Launches on the default stream; <paramref name="arguments"/> are IntPtr (pointers), int or float values.</summary>
    public void Launch(IntPtr function, string entry, (int X, int Y, int Z) grid, int threads, int sharedBytes, object[] arguments)
    {
        var values = new IntPtr[arguments.Length];
        var table = Marshal.AllocHGlobal(IntPtr.Size * arguments.Length);
        try
        {
            for (int i = 0; i < arguments.Length; i++)
            {
                values[i] = Marshal.AllocHGlobal(8);
                switch (arguments[i])
                {
                    case IntPtr p: Marshal.WriteIntPtr(values[i], p); break;
                    case int n: Marshal.WriteInt32(values[i], n); break;
                    case float f: Marshal.WriteInt32(values[i], BitConverter.SingleToInt32Bits(f)); break;
                    default: throw new ArgumentException($"{entry}: argument {i} has an unsupported type {arguments[i]?.GetType().Name ?? "null"}.", nameof(arguments));
                }
                Marshal.WriteIntPtr(table, i * IntPtr.Size, values[i]);
            }
            Check(launchKernel(function, (uint)grid.X, (uint)grid.Y, (uint)grid.Z, (uint)threads, 1, 1, (uint)sharedBytes, IntPtr.Zero, table, IntPtr.Zero),
                "cuLaunchKernel", entry);
        }
        finally
        {
            foreach (var v in values) if (v != IntPtr.Zero) Marshal.FreeHGlobal(v);
            Marshal.FreeHGlobal(table);
        }
    }
}

/// <summary>NVRTC, the CUDA run-time compiler, loaded from a found library file.</summary>
internal sealed class Nvrtc
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int VersionFn(out int major, out int minor);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int CreateProgramFn(out IntPtr program, [MarshalAs(UnmanagedType.LPUTF8Str)] string source,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string name, int headers, IntPtr headerSources, IntPtr headerNames);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int CompileProgramFn(IntPtr program, int count, IntPtr options);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int SizeFn(IntPtr program, out nuint size);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int BytesFn(IntPtr program, byte[] buffer);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int DestroyProgramFn(ref IntPtr program);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr ErrorStringFn(int result);

    readonly VersionFn version;
    readonly CreateProgramFn createProgram;
    readonly CompileProgramFn compileProgram;
    readonly SizeFn logSize, cubinSize;
    readonly BytesFn log, cubin;
    readonly DestroyProgramFn destroyProgram;
    readonly ErrorStringFn errorString;

    /// <summary>The library file (or name) it was loaded from, and why it was on the search list.</summary>
    public NvrtcCandidate Source { get; }

    Nvrtc(IntPtr library, NvrtcCandidate source)
    {
        T Get<T>(string symbol) where T : Delegate => NativeExports.Get<T>(library, symbol);
        version = Get<VersionFn>("nvrtcVersion");
        createProgram = Get<CreateProgramFn>("nvrtcCreateProgram");
        compileProgram = Get<CompileProgramFn>("nvrtcCompileProgram");
        logSize = Get<SizeFn>("nvrtcGetProgramLogSize");
        log = Get<BytesFn>("nvrtcGetProgramLog");
        cubinSize = Get<SizeFn>("nvrtcGetCUBINSize");
        cubin = Get<BytesFn>("nvrtcGetCUBIN");
        destroyProgram = Get<DestroyProgramFn>("nvrtcDestroyProgram");
        errorString = Get<ErrorStringFn>("nvrtcGetErrorString");
        Source = source;
    }

    /// <summary>The first candidate that loads and exports NVRTC's calls; null with every failure in words.</summary>
    public static Nvrtc? TryLoad(IEnumerable<NvrtcCandidate> candidates, out string reason)
    {
        var tried = new List<string>();
        foreach (var c in candidates)
        {
            bool isFile = c.Path.Contains('/');
            if (isFile && !File.Exists(c.Path)) { tried.Add($"{c.Path} (missing)"); continue; }
            // NVRTC opens its builtins library by name when it compiles; one beside it (an unpacked package, a wheel)
            // is found that way only if it is loaded already.
            if (isFile && Path.GetDirectoryName(c.Path) is { Length: > 0 } folder)
                foreach (var builtins in Directory.EnumerateFiles(folder, "libnvrtc-builtins.so*")) NativeLibrary.TryLoad(builtins, out _);
            if (!NativeLibrary.TryLoad(c.Path, out var library)) { tried.Add($"{c.Path} (did not load)"); continue; }
            try
            {
                reason = "";
                return new Nvrtc(library, c);
            }
            catch (EntryPointNotFoundException) { tried.Add($"{c.Path} (not NVRTC)"); }
        }
        reason = "NVRTC was not found (tried " + string.Join(", ", tried) + $"); set {NvrtcLocator.PathVariable} to a libnvrtc.so";
        return null;
    }

    /// <summary>"major.minor" of this NVRTC.</summary>
    public string Version => version(out int major, out int minor) == 0 ? $"{major}.{minor}" : "unknown";

    /// <summary>Compiles CUDA C++ to a cubin; throws with NVRTC's log on failure.</summary>
    public byte[] Compile(string source, string name, IReadOnlyList<string> options)
    {
        Check(createProgram(out var program, source, name, 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram", name, null);
        var optionPointers = options.Select(o => Marshal.StringToCoTaskMemUTF8(o)).ToArray();
        var table = Marshal.AllocHGlobal(IntPtr.Size * Math.Max(1, options.Count));
        try
        {
            for (int i = 0; i < optionPointers.Length; i++) Marshal.WriteIntPtr(table, i * IntPtr.Size, optionPointers[i]);
            int result = compileProgram(program, options.Count, table);
            if (result != 0) Check(result, "nvrtcCompileProgram", name, ProgramLog(program));
            Check(cubinSize(program, out var size), "nvrtcGetCUBINSize", name, null);
            var image = new byte[(int)size];
            Check(cubin(program, image), "nvrtcGetCUBIN", name, null);
            return image;
        }
        finally
        {
            foreach (var p in optionPointers) Marshal.FreeCoTaskMem(p);
            Marshal.FreeHGlobal(table);
            destroyProgram(ref program);
        }
    }

    string ProgramLog(IntPtr program)
    {
        if (logSize(program, out var size) != 0 || size <= 1) return "";
        var buffer = new byte[(int)size];
        return log(program, buffer) == 0 ? System.Text.Encoding.UTF8.GetString(buffer).TrimEnd('\0').Trim() : "";
    }

    void Check(int result, string call, string name, string? programLog)
    {
        if (result == 0) return;
        var message = Marshal.PtrToStringUTF8(errorString(result)) ?? $"error {result}";
        throw new CudaKernelException($"{name}: {call} failed with {message}{(string.IsNullOrEmpty(programLog) ? "." : ":\n" + programLog)}");
    }
}
