using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// CXCursor and friends cross libclang's boundary by value; they are plain unmanaged structs.
[assembly: DisableRuntimeMarshalling]

namespace ExeGPT.BindingsGenerator.Clang;

/// <summary>The subset of libclang's stable C API (clang-c/Index.h) that the generator uses.</summary>
internal static unsafe partial class LibClang
{
    private const string Name = "libclang";

    /// <summary>Debian's libclang1-14 location, the default when LIBCLANG_PATH is not set.</summary>
    private const string DefaultPath = "/usr/lib/llvm-14/lib/libclang.so.1";

    static LibClang() => NativeLibrary.SetDllImportResolver(typeof(LibClang).Assembly, Resolve);

    /// <summary>Forces the resolver registration before the first P/Invoke binds.</summary>
    public static void EnsureResolver() { }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Name)
            return 0;
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (NativeLibrary.TryLoad(candidate, out var handle))
                return handle;
        }
        throw new DllNotFoundException(
            "libclang could not be loaded (install Debian's libclang1-14, or set LIBCLANG_PATH to the library or its folder). Tried: "
            + string.Join(", ", tried));
    }

    private static IEnumerable<string> Candidates()
    {
        var env = Environment.GetEnvironmentVariable("LIBCLANG_PATH");
        if (!string.IsNullOrEmpty(env))
        {
            // An explicit override is authoritative: falling back would hide a misconfiguration.
            if (Directory.Exists(env))
            {
                yield return Path.Combine(env, "libclang.so.1");
                yield return Path.Combine(env, "libclang.so");
                yield return Path.Combine(env, "libclang.dylib");
                yield return Path.Combine(env, "libclang.dll");
            }
            else
            {
                yield return env;
            }
            yield break;
        }
        yield return DefaultPath;
        yield return "libclang.so.1";
        yield return "libclang.so";
        yield return "libclang.dylib";
        yield return "libclang.dll";
    }

    [LibraryImport(Name)] public static partial nint clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Name)] public static partial void clang_disposeIndex(nint index);

    [LibraryImport(Name)]
    public static partial nint clang_parseTranslationUnit(nint index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, void* unsavedFiles, uint numUnsavedFiles, uint options);

    [LibraryImport(Name)] public static partial void clang_disposeTranslationUnit(nint tu);

    [LibraryImport(Name)] public static partial uint clang_getNumDiagnostics(nint tu);
    [LibraryImport(Name)] public static partial nint clang_getDiagnostic(nint tu, uint index);
    [LibraryImport(Name)] public static partial CXDiagnosticSeverity clang_getDiagnosticSeverity(nint diagnostic);
    [LibraryImport(Name)] public static partial CXString clang_formatDiagnostic(nint diagnostic, uint options);
    [LibraryImport(Name)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Name)] public static partial void clang_disposeDiagnostic(nint diagnostic);

    [LibraryImport(Name)] public static partial CXCursor clang_getTranslationUnitCursor(nint tu);
    [LibraryImport(Name)]
    public static partial uint clang_visitChildren(CXCursor parent,
        delegate* unmanaged[Cdecl]<CXCursor, CXCursor, nint, int> visitor, nint clientData);

    [LibraryImport(Name)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXType clang_getCursorResultType(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Name)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Name)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Name)] public static partial uint clang_isCursorDefinition(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Name)] public static partial int clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Name)] public static partial uint clang_Cursor_isBitField(CXCursor cursor);
    [LibraryImport(Name)] public static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Name)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);

    [LibraryImport(Name)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);
    [LibraryImport(Name)] public static partial CXSourceLocation clang_getRangeStart(CXSourceRange range);
    [LibraryImport(Name)] public static partial CXSourceLocation clang_getRangeEnd(CXSourceRange range);
    [LibraryImport(Name)] public static partial int clang_Location_isFromMainFile(CXSourceLocation location);
    [LibraryImport(Name)]
    public static partial void clang_getExpansionLocation(CXSourceLocation location, nint* file, uint* line, uint* column,
        uint* offset);

    [LibraryImport(Name)]
    public static partial void clang_tokenize(nint tu, CXSourceRange range, CXToken** tokens, uint* numTokens);
    [LibraryImport(Name)] public static partial CXTokenKind clang_getTokenKind(CXToken token);
    [LibraryImport(Name)] public static partial CXString clang_getTokenSpelling(nint tu, CXToken token);
    [LibraryImport(Name)] public static partial void clang_disposeTokens(nint tu, CXToken* tokens, uint numTokens);

    [LibraryImport(Name)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Name)] public static partial CXString clang_getTypedefName(CXType type);
    [LibraryImport(Name)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Name)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Name)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Name)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Name)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Name)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Name)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Name)] public static partial long clang_Type_getAlignOf(CXType type);
    [LibraryImport(Name)] public static partial uint clang_isFunctionTypeVariadic(CXType type);

    [LibraryImport(Name)] public static partial byte* clang_getCString(CXString value);
    [LibraryImport(Name)] public static partial void clang_disposeString(CXString value);
}
