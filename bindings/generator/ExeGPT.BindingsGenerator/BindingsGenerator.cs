using System.Text;
using ExeGPT.BindingsGenerator.Emit;
using ExeGPT.BindingsGenerator.Parsing;

namespace ExeGPT.BindingsGenerator;

/// <summary>One output of the generator: a repository-relative path and its full text.</summary>
public sealed record GeneratedFile(string RelativePath, string Content);

/// <summary>The generator's core: header in, generated files out; writing and checking them against disk.</summary>
public static class BindingsGenerator
{
    public const string HeaderPath = "native/include/exegpt/exegpt.h";
    public const string CSharpOutputPath = "bindings/ExeGPT.Native.Bindings/Generated/NativeMethods.g.cs";
    public const string AbiLayoutOutputPath = "native/src/api/abi_layout.g.inc";
    private const string GeneratorFolder = "bindings/generator";
    private const string GeneratorProjectPath = "bindings/generator/ExeGPT.BindingsGenerator";
    private const string AbiLayoutExpanderPath = "native/src/api/abi_layout.cpp";

    /// <summary>Parses the header under <paramref name="root"/> and returns every generated file, in a fixed order.</summary>
    /// <exception cref="GeneratorException">The header has a construct the generator cannot map faithfully.</exception>
    public static IReadOnlyList<GeneratedFile> Generate(string root)
    {
        var header = Path.Combine(root, HeaderPath);
        if (!File.Exists(header))
            throw new GeneratorException([$"header not found: {header}"]);
        var model = HeaderParser.Parse(header);
        return
        [
            new(CSharpOutputPath, CSharpEmitter.Emit(model, HeaderPath, GeneratorProjectPath)),
            new(AbiLayoutOutputPath, AbiLayoutEmitter.Emit(model, HeaderPath, GeneratorFolder, AbiLayoutExpanderPath)),
        ];
    }

    /// <summary>Relative paths of the files whose content on disk differs from <paramref name="files"/> (or that are missing).</summary>
    public static IReadOnlyList<string> FindStale(string root, IReadOnlyList<GeneratedFile> files) =>
        files.Where(f => Read(root, f.RelativePath) is not { } existing || Normalize(existing) != f.Content)
            .Select(f => f.RelativePath)
            .ToList();

    /// <summary>Writes the files that changed; untouched files keep their timestamps so builds stay incremental.</summary>
    public static IReadOnlyList<string> Write(string root, IReadOnlyList<GeneratedFile> files)
    {
        var stale = FindStale(root, files);
        foreach (var file in files.Where(f => stale.Contains(f.RelativePath)))
        {
            var path = Path.Combine(root, file.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, file.Content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }
        return stale;
    }

    private static string? Read(string root, string relativePath)
    {
        var path = Path.Combine(root, relativePath);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    // A checkout with CRLF conversion is not stale: only the text matters.
    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>The repository root: the nearest folder, from <paramref name="start"/> upwards, holding the solution or the header.</summary>
    public static string? FindRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ExeGPT.Native.sln"))
                || File.Exists(Path.Combine(dir.FullName, HeaderPath)))
                return dir.FullName;
        }
        return null;
    }
}
