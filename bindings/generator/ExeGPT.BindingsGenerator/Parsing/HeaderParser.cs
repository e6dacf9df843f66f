using System.Globalization;
using ExeGPT.BindingsGenerator.Clang;
using static ExeGPT.BindingsGenerator.Clang.LibClang;

namespace ExeGPT.BindingsGenerator.Parsing;

/// <summary>
/// Walks the header's top-level declarations and builds the <see cref="AbiModel"/>. Problems are collected with
/// their header location and reported together, so one run shows everything the header would need to change.
/// </summary>
internal sealed class HeaderParser
{
    /// <summary>The macro that marks exported functions; its body is an attribute, not a constant.</summary>
    private const string ExportMacro = "EXG_API";
    private const string ApiVersionMacro = "EXG_API_VERSION";
    private const string SymbolPrefix = "exg_";

    private readonly string _fileName;
    private readonly TranslationUnit _tu;
    private readonly SourceComments _comments;
    private readonly TypeMapper _types;
    private readonly List<string> _errors = [];
    private readonly Dictionary<int, string> _typedefNameOfUnnamedTag = []; // keyed by the tag's start offset
    private readonly Dictionary<string, int> _typedefStart = []; // comments sit above "typedef", not the tag

    private readonly List<AbiConstant> _constants = [];
    private readonly List<AbiEnum> _enums = [];
    private readonly List<AbiOpaque> _opaques = [];
    private readonly List<AbiStruct> _structs = [];
    private readonly List<AbiFunction> _functions = [];
    private readonly HashSet<string> _seenTags = [];

    private HeaderParser(string path, TranslationUnit tu)
    {
        _fileName = Path.GetFileName(path);
        _tu = tu;
        _comments = new SourceComments(File.ReadAllBytes(path));
        _types = new TypeMapper(TagName);
    }

    public static AbiModel Parse(string headerPath)
    {
        // C11 as the C side sees it; the header must also be valid C++, which the native build checks.
        using var tu = TranslationUnit.Parse(headerPath, ["-x", "c", "-std=c11"]);
        var parser = new HeaderParser(headerPath, tu);
        return parser.Run();
    }

    private AbiModel Run()
    {
        var top = _tu.Cursor.Children().Where(c => c.IsFromMainFile()).ToList();
        foreach (var cursor in top.Where(c => c.kind == CXCursorKind.TypedefDecl))
            Guard(cursor, () => RegisterTypedef(cursor));
        foreach (var cursor in top)
            Guard(cursor, () => Visit(cursor));
        if (_errors.Count > 0)
            throw new GeneratorException(_errors);
        return new AbiModel(_constants, _enums, _opaques, _structs, _functions);
    }

    private void Guard(CXCursor cursor, Action action)
    {
        try
        {
            action();
        }
        catch (UnsupportedTypeException e)
        {
            Error(cursor, e.Message);
        }
    }

    private void Error(CXCursor cursor, string message) =>
        _errors.Add($"{_fileName}:{cursor.Location()}: {cursor.Spelling()}: {message}");

    private void Visit(CXCursor cursor)
    {
        switch (cursor.kind)
        {
            case CXCursorKind.MacroDefinition:
                VisitMacro(cursor);
                break;
            case CXCursorKind.EnumDecl:
                VisitEnum(cursor);
                break;
            case CXCursorKind.StructDecl:
                VisitStruct(cursor);
                break;
            case CXCursorKind.TypedefDecl:
                VisitTypedef(cursor);
                break;
            case CXCursorKind.FunctionDecl:
                VisitFunction(cursor);
                break;
            case CXCursorKind.MacroExpansion or CXCursorKind.InclusionDirective:
                break;
            case CXCursorKind.UnionDecl:
                Error(cursor, "unions are not mapped");
                break;
            case CXCursorKind.VarDecl:
                Error(cursor, "global variables are not mapped; expose a function instead");
                break;
            default:
                Error(cursor, $"declaration kind {(int)cursor.kind} is not mapped");
                break;
        }
    }

    // ------------------------------------------------------------------------------------------ typedefs

    private void RegisterTypedef(CXCursor typedef)
    {
        var name = typedef.Spelling();
        var underlying = clang_getTypedefDeclUnderlyingType(typedef);
        if (underlying.kind == CXTypeKind.Elaborated)
            underlying = clang_Type_getNamedType(underlying);
        if (underlying.kind is not (CXTypeKind.Record or CXTypeKind.Enum))
        {
            Error(typedef, $"typedef of '{underlying.Spelling()}' is not mapped (only 'typedef struct/enum X X')");
            return;
        }
        var tag = clang_getTypeDeclaration(underlying);
        if (IsUnnamed(tag))
            _typedefNameOfUnnamedTag[tag.Start().Offset] = name;
        else if (tag.Spelling() != name)
            Error(typedef, $"typedef renames '{tag.Spelling()}'; a struct or enum is mapped only under its own tag name");
        _typedefStart.TryAdd(name, typedef.Start().Offset);
    }

    private void VisitTypedef(CXCursor typedef)
    {
        // A typedef of a struct that is never defined is how the header declares an opaque handle.
        var underlying = clang_getCanonicalType(clang_getTypedefDeclUnderlyingType(typedef));
        if (underlying.kind != CXTypeKind.Record)
            return;
        var tag = clang_getTypeDeclaration(underlying);
        if (tag.kind == CXCursorKind.StructDecl && clang_getCursorDefinition(tag).IsNull())
            AddOpaque(tag);
    }

    private static bool IsUnnamed(CXCursor tag)
    {
        // libclang 14 spells unnamed tags "" and later versions "struct (unnamed at ...)".
        var spelling = tag.Spelling();
        return spelling.Length == 0 || spelling.Contains("(unnamed", StringComparison.Ordinal)
            || spelling.Contains("(anonymous", StringComparison.Ordinal);
    }

    private string? TagName(CXCursor tag) =>
        !IsUnnamed(tag) ? tag.Spelling() : _typedefNameOfUnnamedTag.GetValueOrDefault(tag.Start().Offset);

    private string? Doc(string name, CXCursor cursor) =>
        _comments.Leading(Math.Min(cursor.Start().Offset, _typedefStart.GetValueOrDefault(name, int.MaxValue)));

    private string RequireName(CXCursor tag)
    {
        var name = TagName(tag) ?? throw new UnsupportedTypeException("unnamed struct or enum without a typedef");
        if (!name.StartsWith(SymbolPrefix, StringComparison.Ordinal))
            throw new UnsupportedTypeException($"'{name}' lacks the {SymbolPrefix} prefix every public symbol carries");
        return name;
    }

    // ------------------------------------------------------------------------------------------ macros

    private void VisitMacro(CXCursor macro)
    {
        var name = macro.Spelling();
        if (clang_Cursor_isMacroFunctionLike(macro) != 0)
        {
            Error(macro, "function-like macros are not mapped");
            return;
        }
        var body = _tu.Tokens(macro).Skip(1).ToList(); // the first token is the macro's name
        if (body.Count == 0 || name == ExportMacro)
            return; // include guards and the export attribute carry no value
        if (body.Count != 1 || body[0].Kind != CXTokenKind.Literal || !TryParseInteger(body[0].Text, out var value, out var unsigned))
        {
            Error(macro, "only macros whose body is one integer literal are mapped (as constants)");
            return;
        }
        if (!name.StartsWith("EXG_", StringComparison.Ordinal))
        {
            Error(macro, "constant macros must carry the EXG_ prefix");
            return;
        }
        var doc = _comments.Leading(macro.Start().Offset) ?? _comments.Trailing(macro.End().Offset);
        if (name == ApiVersionMacro)
        {
            if (value > uint.MaxValue)
            {
                Error(macro, "the API version must fit in uint32_t (exg_api_version returns one)");
                return;
            }
            _constants.Add(new AbiConstant("ApiVersion", "uint", value.ToString(CultureInfo.InvariantCulture),
                doc ?? $"{ApiVersionMacro} of the header these bindings were generated from; the loader requires exg_api_version() to equal it."));
            return;
        }
        var type = (unsigned, value) switch
        {
            (false, <= int.MaxValue) => "int",
            (false, <= long.MaxValue) => "long",
            (true, <= uint.MaxValue) => "uint",
            _ => "ulong",
        };
        _constants.Add(new AbiConstant(name, type, value.ToString(CultureInfo.InvariantCulture), doc));
    }

    private static bool TryParseInteger(string literal, out ulong value, out bool unsigned)
    {
        var digits = literal.TrimEnd('u', 'U', 'l', 'L');
        unsigned = digits.Length != literal.Length && literal[digits.Length..].Contains('u', StringComparison.OrdinalIgnoreCase);
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (digits.Length > 1 && digits[0] == '0')
        {
            value = 0;
            return false; // octal: legal C, but too easy to misread to accept in an ABI header
        }
        return ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    // ------------------------------------------------------------------------------------------ enums

    private void VisitEnum(CXCursor decl)
    {
        if (clang_isCursorDefinition(decl) == 0)
            return;
        var name = RequireName(decl);
        var size = clang_Type_getSizeOf(clang_getEnumDeclIntegerType(decl));
        if (size != 4)
            throw new UnsupportedTypeException($"the enum's underlying type is {size} bytes; the bindings use int");
        var members = new List<AbiEnumMember>();
        foreach (var constant in decl.Children().Where(c => c.kind == CXCursorKind.EnumConstantDecl))
        {
            var value = clang_getEnumConstantDeclValue(constant);
            if (value is < int.MinValue or > int.MaxValue)
            {
                Error(constant, $"value {value} does not fit in int");
                continue;
            }
            var doc = _comments.Leading(constant.Start().Offset) ?? _comments.Trailing(constant.End().Offset);
            members.Add(new AbiEnumMember(constant.Spelling(), value, doc));
        }
        if (_seenTags.Add(name))
            _enums.Add(new AbiEnum(name, members, Doc(name, decl)));
    }

    // ------------------------------------------------------------------------------------------ structs

    private void VisitStruct(CXCursor decl)
    {
        if (clang_isCursorDefinition(decl) == 0)
        {
            if (clang_getCursorDefinition(decl).IsNull())
                AddOpaque(decl);
            return;
        }
        var name = RequireName(decl);
        var fields = new List<AbiField>();
        long offset = 0, maxAlign = 1;
        var errorsBefore = _errors.Count;
        foreach (var child in decl.Children())
        {
            if (child.kind != CXCursorKind.FieldDecl)
            {
                Error(child, child.kind switch
                {
                    CXCursorKind.StructDecl or CXCursorKind.UnionDecl => "nested struct/union definitions are not mapped; declare the type at top level",
                    >= CXCursorKind.UnexposedAttr and < CXCursorKind.MacroDefinition => "attributes on structs are not mapped (they may change the layout)",
                    _ => $"member kind {(int)child.kind} is not mapped",
                });
                continue;
            }
            Guard(child, () => fields.Add(MapField(child)));
            Guard(child, () => offset = CheckFieldOffset(child, offset, ref maxAlign));
        }
        var size = clang_Type_getSizeOf(clang_getCursorType(decl));
        if (_errors.Count == errorsBefore && AlignUp(offset, maxAlign) != size)
            Error(decl, $"size {size} is not the natural layout's {AlignUp(offset, maxAlign)} (packing attribute?)");
        if (_seenTags.Add(name))
            _structs.Add(new AbiStruct(name, fields, Doc(name, decl)));
    }

    private AbiField MapField(CXCursor field)
    {
        if (clang_Cursor_isBitField(field) != 0)
            throw new UnsupportedTypeException("bit-fields are not mapped");
        var type = clang_getCursorType(field);
        var doc = _comments.Leading(field.Start().Offset) ?? _comments.Trailing(field.End().Offset);
        if (type.kind != CXTypeKind.ConstantArray)
            return new AbiField(field.Spelling(), _types.Map(type), null, doc);
        var element = _types.MapArrayElement(clang_getArrayElementType(type));
        if (!TypeMapper.FixedBufferElements.Contains(element))
            throw new UnsupportedTypeException($"an array of {element} cannot be a C# fixed buffer; only primitive elements");
        return new AbiField(field.Spelling(), element, clang_getArraySize(type), doc);
    }

    /// <summary>
    /// C# sequential layout reproduces C's natural layout; anything else (packing, alignas) would silently
    /// disagree, so each field's offset is checked against the natural one. Returns the offset past the field.
    /// </summary>
    private static long CheckFieldOffset(CXCursor field, long offset, ref long maxAlign)
    {
        var type = clang_getCursorType(field);
        var size = clang_Type_getSizeOf(type);
        var align = clang_Type_getAlignOf(type);
        var actualBits = clang_Cursor_getOffsetOfField(field);
        if (size < 0 || align <= 0 || actualBits < 0)
            throw new UnsupportedTypeException("libclang cannot lay this field out (incomplete type?)");
        var expected = AlignUp(offset, align);
        if (actualBits != expected * 8)
            throw new UnsupportedTypeException($"offset {actualBits / 8} is not the natural {expected} (packing or alignment attribute?)");
        maxAlign = Math.Max(maxAlign, align);
        return expected + size;
    }

    private static long AlignUp(long value, long align) => (value + align - 1) / align * align;

    private void AddOpaque(CXCursor tag)
    {
        var name = RequireName(tag);
        if (_seenTags.Add(name))
            _opaques.Add(new AbiOpaque(name, Doc(name, tag)));
    }

    // ------------------------------------------------------------------------------------------ functions

    private void VisitFunction(CXCursor function)
    {
        var name = function.Spelling();
        var type = clang_getCursorType(function);
        if (!name.StartsWith(SymbolPrefix, StringComparison.Ordinal))
            throw new UnsupportedTypeException($"lacks the {SymbolPrefix} prefix every exported symbol carries");
        if (type.kind == CXTypeKind.FunctionNoProto)
            throw new UnsupportedTypeException("declared without a prototype; write (void) for no parameters");
        if (clang_isFunctionTypeVariadic(type) != 0)
            throw new UnsupportedTypeException("variadic functions are not mapped");
        if (!function.Children().Any(c => c.kind == CXCursorKind.VisibilityAttr))
            throw new UnsupportedTypeException($"not declared {ExportMacro}, so it is not exported");
        var parameters = new List<AbiParameter>();
        var count = clang_Cursor_getNumArguments(function);
        for (uint i = 0; i < count; i++)
        {
            var parameter = clang_Cursor_getArgument(function, i);
            var parameterName = parameter.Spelling();
            parameters.Add(new AbiParameter(parameterName.Length > 0 ? parameterName : $"arg{i}",
                _types.Map(clang_getCursorType(parameter))));
        }
        var returnType = _types.Map(clang_getCursorResultType(function), allowVoid: true);
        _functions.Add(new AbiFunction(name, returnType, parameters, _comments.Leading(function.Start().Offset)));
    }
}
