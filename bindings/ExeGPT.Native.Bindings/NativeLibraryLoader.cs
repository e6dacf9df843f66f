using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ExeGPT.Native.Interop;

namespace ExeGPT.Native;

/// <summary>
/// Finds and loads libexegpt once per process and checks its API version. Search order: the explicit path, else
/// <c>EXEGPT_NATIVE_PATH</c> (a file or a folder), else beside the application, else
/// <c>runtimes/&lt;rid&gt;/native</c> under it. A path that is given (argument or variable) is authoritative: when it
/// holds no loadable library the load fails instead of quietly picking up another copy.
/// </summary>
/// <remarks>
/// Every entry point of the safe layer loads lazily, and the import resolver covers direct
/// <see cref="NativeMethods"/> calls, so calling <see cref="Initialize"/> is only needed to pass a path or to
/// surface load errors early.
/// </remarks>
public static unsafe class NativeLibraryLoader
{
    public const string PathVariable = "EXEGPT_NATIVE_PATH";

    private static readonly Lock Gate = new();
    private static nint s_handle;
    private static string? s_path;

    /// <summary>The file the library was loaded from, or null while it is not loaded.</summary>
    public static string? LoadedPath => Volatile.Read(ref s_handle) == 0 ? null : s_path;

    /// <summary>
    /// Loads the library (once; later calls are no-ops) and checks <c>exg_api_version()</c> against
    /// <see cref="NativeMethods.ApiVersion"/>.
    /// </summary>
    /// <param name="explicitPath">The library file, or a folder holding it. After a load it must name the loaded file.</param>
    /// <exception cref="DllNotFoundException">No candidate loaded; the message lists every path tried and why.</exception>
    /// <exception cref="ExgException">The library's API version differs (status EXG_ERR_UNSUPPORTED).</exception>
    /// <exception cref="InvalidOperationException">The library is already loaded from another file.</exception>
    public static void Initialize(string? explicitPath = null)
    {
        lock (Gate)
        {
            if (s_handle != 0)
            {
                if (!string.IsNullOrEmpty(explicitPath))
                    RequireLoadedFrom(explicitPath);
                return;
            }
            var candidates = CandidatePaths(explicitPath, Environment.GetEnvironmentVariable(PathVariable), AppContext.BaseDirectory);
            var (handle, path) = LoadFirst(candidates);
            try
            {
                CheckApiVersion(handle, path);
            }
            catch
            {
                NativeLibrary.Free(handle);
                throw;
            }
            s_path = path;
            Volatile.Write(ref s_handle, handle);
        }
    }

    /// <summary>The lazy-load hook every public entry point of the safe layer calls first.</summary>
    internal static void EnsureLoaded()
    {
        if (Volatile.Read(ref s_handle) == 0)
            Initialize();
    }

    /// <summary>Registers the resolver before any import of this assembly can bind, so none bypasses the version check.</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The resolver must exist before the first P/Invoke of this assembly binds.")]
    internal static void RegisterResolver() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.LibraryName)
            return 0;
        EnsureLoaded();
        return s_handle;
    }

    /// <summary>The files to try, in order (see the class remarks).</summary>
    internal static IReadOnlyList<string> CandidatePaths(string? explicitPath, string? environmentPath, string baseDirectory)
    {
        if (!string.IsNullOrEmpty(explicitPath))
            return Expand(explicitPath);
        if (!string.IsNullOrEmpty(environmentPath))
            return Expand(environmentPath);
        return [Path.Combine(baseDirectory, FileName), Path.Combine(baseDirectory, "runtimes", RuntimeId(), "native", FileName)];
    }

    private static List<string> Expand(string path) => [Directory.Exists(path) ? Path.Combine(path, FileName) : path];

    /// <summary>
    /// The library's file name on this platform only: other platforms' names cannot load here, and "exegpt.dll" beside
    /// an app is the CLI's own managed assembly (AssemblyName exegpt), not the native library.
    /// </summary>
    internal static string FileName =>
        OperatingSystem.IsWindows() ? "exegpt.dll" : OperatingSystem.IsMacOS() ? "libexegpt.dylib" : "libexegpt.so";

    private static string RuntimeId()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
    }

    internal static (nint Handle, string Path) LoadFirst(IReadOnlyList<string> candidates)
    {
        var tried = new List<string>();
        foreach (var candidate in candidates)
        {
            // A bare file name is left to the OS search (LD_LIBRARY_PATH); a path must exist.
            var isPath = candidate.Contains(Path.DirectorySeparatorChar) || candidate.Contains(Path.AltDirectorySeparatorChar);
            if (isPath && !File.Exists(candidate))
            {
                tried.Add($"{candidate} (not found)");
                continue;
            }
            try
            {
                return (NativeLibrary.Load(candidate), isPath ? Path.GetFullPath(candidate) : candidate);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                // Keep the loader's reason: a present file that fails usually lacks a dependency (e.g. OpenBLAS).
                tried.Add($"{candidate} ({e.Message})");
            }
        }
        throw new DllNotFoundException(
            $"The ExeGPT native library could not be loaded. Tried:{Environment.NewLine}  "
            + string.Join(Environment.NewLine + "  ", tried)
            + $"{Environment.NewLine}Build it (./build.sh build) or point {PathVariable} at libexegpt.");
    }

    internal static void CheckApiVersion(nint handle, string path)
    {
        // Called through the export directly: going through NativeMethods would re-enter this loader's resolver.
        if (!NativeLibrary.TryGetExport(handle, "exg_api_version", out var export))
            throw new ExgException(exg_status.EXG_ERR_UNSUPPORTED, $"{path} is not an ExeGPT library (no exg_api_version export).");
        var version = ((delegate* unmanaged[Cdecl]<uint>)export)();
        if (version != NativeMethods.ApiVersion)
            throw new ExgException(exg_status.EXG_ERR_UNSUPPORTED,
                $"{path} implements ExeGPT API version {version}, but these bindings were generated for version "
                + $"{NativeMethods.ApiVersion}; rebuild the native library or regenerate the bindings.");
    }

    private static void RequireLoadedFrom(string explicitPath)
    {
        // Only compares paths: loading a second copy would run its initialisers for nothing.
        var candidates = Expand(explicitPath);
        var existing = candidates.Where(File.Exists).Select(Canonical).ToList();
        if (existing.Count == 0)
            throw new DllNotFoundException(
                $"No ExeGPT native library at the given path. Tried:{Environment.NewLine}  "
                + string.Join(Environment.NewLine + "  ", candidates.Select(c => $"{c} (not found)"))
                + $"{Environment.NewLine}(The library already loaded from {s_path} stays in use.)");
        if (!existing.Contains(Canonical(s_path!)))
            throw new InvalidOperationException(
                $"The ExeGPT native library is already loaded from {s_path}; it cannot be switched to {existing[0]} in this process.");
    }

    private static string Canonical(string path)
    {
        var full = Path.GetFullPath(path);
        return new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
    }
}
