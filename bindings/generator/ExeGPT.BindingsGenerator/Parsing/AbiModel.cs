namespace ExeGPT.BindingsGenerator.Parsing;

// What the header declares, already mapped to C# spellings; the emitters only format it.
// Every list is in header order so the output is deterministic.

internal sealed record AbiConstant(string Name, string CSharpType, string Value, string? Doc);

internal sealed record AbiEnumMember(string Name, long Value, string? Doc);

internal sealed record AbiEnum(string Name, IReadOnlyList<AbiEnumMember> Members, string? Doc);

/// <summary>A struct that is only declared: an opaque handle used through pointers.</summary>
internal sealed record AbiOpaque(string Name, string? Doc);

/// <summary>A field; <paramref name="FixedLength"/> is set for C arrays, which become fixed buffers of <paramref name="CSharpType"/>.</summary>
internal sealed record AbiField(string Name, string CSharpType, long? FixedLength, string? Doc);

internal sealed record AbiStruct(string Name, IReadOnlyList<AbiField> Fields, string? Doc);

internal sealed record AbiParameter(string Name, string CSharpType);

internal sealed record AbiFunction(string Name, string ReturnType, IReadOnlyList<AbiParameter> Parameters, string? Doc);

internal sealed record AbiModel(
    IReadOnlyList<AbiConstant> Constants,
    IReadOnlyList<AbiEnum> Enums,
    IReadOnlyList<AbiOpaque> Opaques,
    IReadOnlyList<AbiStruct> Structs,
    IReadOnlyList<AbiFunction> Functions);
