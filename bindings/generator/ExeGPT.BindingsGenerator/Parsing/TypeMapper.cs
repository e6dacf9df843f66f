using ExeGPT.BindingsGenerator.Clang;
using static ExeGPT.BindingsGenerator.Clang.LibClang;

namespace ExeGPT.BindingsGenerator.Parsing;

/// <summary>
/// Maps C types of the header to blittable C# spellings. Anything without an exact, portable equivalent is
/// rejected with a reason instead of being approximated (bool, plain char outside strings, long, function pointers, unions...).
/// </summary>
internal sealed class TypeMapper(Func<CXCursor, string?> tagName)
{
    /// <summary>Fixed-width typedefs from stdint.h/stddef.h and their C# equivalents.</summary>
    private static readonly Dictionary<string, (string CSharp, int Size)> StdTypedefs = new()
    {
        ["int8_t"] = ("sbyte", 1), ["uint8_t"] = ("byte", 1),
        ["int16_t"] = ("short", 2), ["uint16_t"] = ("ushort", 2),
        ["int32_t"] = ("int", 4), ["uint32_t"] = ("uint", 4),
        ["int64_t"] = ("long", 8), ["uint64_t"] = ("ulong", 8),
        ["size_t"] = ("nuint", IntPtr.Size), ["uintptr_t"] = ("nuint", IntPtr.Size),
        ["intptr_t"] = ("nint", IntPtr.Size), ["ptrdiff_t"] = ("nint", IntPtr.Size),
    };

    private static readonly Dictionary<CXTypeKind, (string CSharp, int Size)> Builtins = new()
    {
        [CXTypeKind.SChar] = ("sbyte", 1), [CXTypeKind.UChar] = ("byte", 1),
        [CXTypeKind.Short] = ("short", 2), [CXTypeKind.UShort] = ("ushort", 2),
        [CXTypeKind.Int] = ("int", 4), [CXTypeKind.UInt] = ("uint", 4),
        [CXTypeKind.LongLong] = ("long", 8), [CXTypeKind.ULongLong] = ("ulong", 8),
        [CXTypeKind.Float] = ("float", 4), [CXTypeKind.Double] = ("double", 8),
    };

    /// <summary>C# element types allowed in a fixed-size buffer.</summary>
    public static readonly HashSet<string> FixedBufferElements =
        ["sbyte", "byte", "short", "ushort", "int", "uint", "long", "ulong", "float", "double"];

    /// <summary>Maps a field, parameter or return type; <paramref name="allowVoid"/> only for return types.</summary>
    public string Map(CXType type, bool allowVoid = false) => Map(type, allowVoid, behindPointer: false);

    /// <summary>
    /// Maps the element type of a fixed-size array field. A plain char array is a NUL-terminated UTF-8 text buffer
    /// (e.g. a device name): its bytes cross as bytes, as <c>const char*</c> does, so char's signedness never matters.
    /// </summary>
    public string MapArrayElement(CXType element)
    {
        if (element.kind == CXTypeKind.Elaborated)
            element = clang_Type_getNamedType(element);
        return element.kind is CXTypeKind.Char_S or CXTypeKind.Char_U ? "byte" : Map(element);
    }

    private string Map(CXType type, bool allowVoid, bool behindPointer)
    {
        switch (type.kind)
        {
            case CXTypeKind.Elaborated:
                return Map(clang_Type_getNamedType(type), allowVoid, behindPointer);
            case CXTypeKind.Void when allowVoid:
                return "void";
            case CXTypeKind.Pointer:
                return MapPointee(type, clang_getPointeeType(type)) + "*";
            case CXTypeKind.Typedef:
                return MapTypedef(type, behindPointer);
            case CXTypeKind.Record:
            case CXTypeKind.Enum:
                return MapTag(type, behindPointer);
            case CXTypeKind.Bool:
                throw Unsupported(type, "bool has no fixed ABI size; the header uses uint8_t for flags");
            case CXTypeKind.Char_S or CXTypeKind.Char_U:
                throw Unsupported(type, "plain char is only mapped behind a pointer (const char* -> byte*) or as a text array field (char[N] -> fixed byte[N]); use int8_t/uint8_t");
            case CXTypeKind.Long or CXTypeKind.ULong:
                throw Unsupported(type, "long differs between LP64 and LLP64; use int64_t/int32_t");
            case CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray or CXTypeKind.VariableArray:
                throw Unsupported(type, "arrays are only mapped as struct fields of primitive elements");
            case CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto:
                throw Unsupported(type, "function types are not mapped");
        }
        if (Builtins.TryGetValue(type.kind, out var builtin))
            return CheckSize(type, builtin);
        throw Unsupported(type, $"type kind {type.kind} is not mapped");
    }

    private string MapPointee(CXType pointer, CXType pointee)
    {
        if (pointee.kind == CXTypeKind.Elaborated)
            pointee = clang_Type_getNamedType(pointee);
        return pointee.kind switch
        {
            CXTypeKind.Void => "void",
            CXTypeKind.Char_S or CXTypeKind.Char_U => "byte", // UTF-8 strings cross as bytes: no marshalling
            CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto =>
                throw Unsupported(pointer, "function pointers are not mapped"),
            _ => Map(pointee, allowVoid: false, behindPointer: true),
        };
    }

    private string MapTypedef(CXType type, bool behindPointer)
    {
        var name = Cx.Take(clang_getTypedefName(type));
        if (StdTypedefs.TryGetValue(name, out var std))
            return CheckSize(type, std);
        var canonical = clang_getCanonicalType(type);
        if (canonical.kind is not (CXTypeKind.Record or CXTypeKind.Enum))
            throw Unsupported(type, $"typedef {name} of {canonical.Spelling()} is not mapped (only fixed-width integer typedefs and struct/enum typedefs)");
        var tag = MapTag(canonical, behindPointer);
        if (tag != name)
            throw Unsupported(type, $"typedef {name} names {tag}; a struct or enum is mapped only under its own tag name");
        return tag;
    }

    private string MapTag(CXType type, bool behindPointer)
    {
        var decl = clang_getTypeDeclaration(clang_getCanonicalType(type));
        if (decl.kind == CXCursorKind.UnionDecl)
            throw Unsupported(type, "unions are not mapped");
        if (!decl.IsFromMainFile())
            throw Unsupported(type, $"{type.Spelling()} is declared outside the header");
        if (!behindPointer && decl.kind == CXCursorKind.StructDecl && clang_getCursorDefinition(decl).IsNull())
            throw Unsupported(type, "an opaque struct can only be used through a pointer");
        return tagName(decl) ?? throw Unsupported(type, "unnamed struct or enum without a typedef");
    }

    private static string CheckSize(CXType type, (string CSharp, int Size) mapped)
    {
        var size = clang_Type_getSizeOf(type);
        if (size != mapped.Size)
            throw Unsupported(type, $"{type.Spelling()} is {size} bytes here, but {mapped.CSharp} is {mapped.Size}");
        return mapped.CSharp;
    }

    private static UnsupportedTypeException Unsupported(CXType type, string reason) =>
        new($"'{type.Spelling()}': {reason}");
}

/// <summary>Thrown by <see cref="TypeMapper"/>; the parser adds the declaration's location and keeps going.</summary>
internal sealed class UnsupportedTypeException(string message) : Exception(message);
