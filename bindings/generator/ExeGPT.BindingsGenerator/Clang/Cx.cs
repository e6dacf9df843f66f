using System.Runtime.InteropServices;
using static ExeGPT.BindingsGenerator.Clang.LibClang;

namespace ExeGPT.BindingsGenerator.Clang;

/// <summary>A position in the parsed header: 1-based line/column and the 0-based byte offset.</summary>
internal readonly record struct SourcePos(int Line, int Column, int Offset)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>Managed conveniences over libclang cursors, types and strings.</summary>
internal static unsafe class Cx
{
    /// <summary>Copies a CXString and disposes it (libclang owns the buffer until then).</summary>
    public static string Take(CXString value)
    {
        try
        {
            var p = clang_getCString(value);
            return p == null ? "" : Marshal.PtrToStringUTF8((nint)p) ?? "";
        }
        finally
        {
            clang_disposeString(value);
        }
    }

    public static string Spelling(this CXCursor cursor) => Take(clang_getCursorSpelling(cursor));
    public static string Spelling(this CXType type) => Take(clang_getTypeSpelling(type));
    public static bool IsNull(this CXCursor cursor) => clang_Cursor_isNull(cursor) != 0;
    public static bool IsFromMainFile(this CXCursor cursor) => clang_Location_isFromMainFile(clang_getCursorLocation(cursor)) != 0;

    /// <summary>Start of the cursor's extent where it was written (macro uses such as EXG_API resolve to the use site).</summary>
    public static SourcePos Start(this CXCursor cursor) => Position(clang_getRangeStart(clang_getCursorExtent(cursor)));

    /// <summary>One past the last character of the cursor's extent.</summary>
    public static SourcePos End(this CXCursor cursor) => Position(clang_getRangeEnd(clang_getCursorExtent(cursor)));

    /// <summary>Where the cursor's name is, for error messages.</summary>
    public static SourcePos Location(this CXCursor cursor) => Position(clang_getCursorLocation(cursor));

    private static SourcePos Position(CXSourceLocation location)
    {
        uint line, column, offset;
        clang_getExpansionLocation(location, null, &line, &column, &offset);
        return new SourcePos((int)line, (int)column, (int)offset);
    }

    /// <summary>Direct children in source order.</summary>
    public static List<CXCursor> Children(this CXCursor parent)
    {
        var children = new List<CXCursor>();
        var handle = GCHandle.Alloc(children);
        try
        {
            clang_visitChildren(parent, &CollectChild, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return children;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static int CollectChild(CXCursor cursor, CXCursor parent, nint clientData)
    {
        const int Break = 0, Continue = 1;
        try
        {
            ((List<CXCursor>)GCHandle.FromIntPtr(clientData).Target!).Add(cursor);
            return Continue;
        }
        catch
        {
            // An exception must not unwind through libclang's frames; an incomplete list is caught by the caller's checks.
            return Break;
        }
    }
}
