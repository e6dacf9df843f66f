using System.Text;
using static ExeGPT.BindingsGenerator.Clang.LibClang;

namespace ExeGPT.BindingsGenerator.Clang;

/// <summary>A parsed header; owns the libclang index and translation unit.</summary>
internal sealed unsafe class TranslationUnit : IDisposable
{
    private const uint DetailedPreprocessingRecord = 0x01; // keeps #define cursors (EXG_API_VERSION)
    private const uint SkipFunctionBodies = 0x40;

    private nint _index;
    private nint _tu;

    private TranslationUnit(nint index, nint tu)
    {
        _index = index;
        _tu = tu;
    }

    public CXCursor Cursor => clang_getTranslationUnitCursor(_tu);

    /// <summary>Parses <paramref name="path"/>; throws <see cref="GeneratorException"/> listing every error diagnostic.</summary>
    public static TranslationUnit Parse(string path, IReadOnlyList<string> arguments)
    {
        LibClang.EnsureResolver();
        var index = clang_createIndex(0, 0);
        var utf8Args = arguments.Select(a => Encoding.UTF8.GetBytes(a + "\0")).ToArray();
        var handles = utf8Args.Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a,
            System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        nint tu;
        try
        {
            var argv = stackalloc byte*[utf8Args.Length];
            for (var i = 0; i < handles.Length; i++)
                argv[i] = (byte*)handles[i].AddrOfPinnedObject();
            fixed (byte* file = Encoding.UTF8.GetBytes(path + "\0"))
                tu = clang_parseTranslationUnit(index, file, argv, utf8Args.Length, null, 0,
                    DetailedPreprocessingRecord | SkipFunctionBodies);
        }
        finally
        {
            foreach (var h in handles)
                h.Free();
        }
        var unit = new TranslationUnit(index, tu);
        if (tu == 0)
        {
            unit.Dispose();
            throw new GeneratorException([$"{path}: libclang could not parse the file"]);
        }
        var errors = unit.ErrorDiagnostics();
        if (errors.Count > 0)
        {
            unit.Dispose();
            throw new GeneratorException(errors);
        }
        return unit;
    }

    private List<string> ErrorDiagnostics()
    {
        var errors = new List<string>();
        var count = clang_getNumDiagnostics(_tu);
        for (uint i = 0; i < count; i++)
        {
            var diagnostic = clang_getDiagnostic(_tu, i);
            try
            {
                if (clang_getDiagnosticSeverity(diagnostic) >= CXDiagnosticSeverity.Error)
                    errors.Add(Cx.Take(clang_formatDiagnostic(diagnostic, clang_defaultDiagnosticDisplayOptions())));
            }
            finally
            {
                clang_disposeDiagnostic(diagnostic);
            }
        }
        return errors;
    }

    /// <summary>The tokens of a cursor's extent (for macro bodies, which have no AST).</summary>
    public List<(CXTokenKind Kind, string Text)> Tokens(CXCursor cursor)
    {
        CXToken* tokens;
        uint count;
        clang_tokenize(_tu, clang_getCursorExtent(cursor), &tokens, &count);
        try
        {
            var result = new List<(CXTokenKind, string)>((int)count);
            for (uint i = 0; i < count; i++)
                result.Add((clang_getTokenKind(tokens[i]), Cx.Take(clang_getTokenSpelling(_tu, tokens[i]))));
            return result;
        }
        finally
        {
            if (tokens != null)
                clang_disposeTokens(_tu, tokens, count);
        }
    }

    public void Dispose()
    {
        if (_tu != 0)
        {
            clang_disposeTranslationUnit(_tu);
            _tu = 0;
        }
        if (_index != 0)
        {
            clang_disposeIndex(_index);
            _index = 0;
        }
    }
}
