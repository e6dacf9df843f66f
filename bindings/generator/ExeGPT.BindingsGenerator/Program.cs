using ExeGPT.BindingsGenerator;

// dotnet run --project bindings/generator/ExeGPT.BindingsGenerator -- [--check] [--root <repo root>]
// Exit codes: 0 ok, 1 generated files are stale (--check), 2 usage or generation error.

const string Usage = "usage: ExeGPT.BindingsGenerator [--check] [--root <repo root>]";
var check = false;
string? root = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--root" when i + 1 < args.Length:
            root = Path.GetFullPath(args[++i]);
            break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'\n{Usage}");
            return 2;
    }
}

root ??= BindingsGenerator.FindRoot(Environment.CurrentDirectory) ?? BindingsGenerator.FindRoot(AppContext.BaseDirectory);
if (root == null)
{
    Console.Error.WriteLine($"cannot find the repository root (a folder with ExeGPT.Native.sln or {BindingsGenerator.HeaderPath}) above the current directory; pass --root");
    return 2;
}

IReadOnlyList<GeneratedFile> files;
try
{
    files = BindingsGenerator.Generate(root);
}
catch (GeneratorException e)
{
    Console.Error.WriteLine($"error: {BindingsGenerator.HeaderPath} has constructs the bindings generator cannot map:");
    foreach (var error in e.Errors)
        Console.Error.WriteLine($"  {error}");
    return 2;
}
catch (DllNotFoundException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

if (check)
{
    var stale = BindingsGenerator.FindStale(root, files);
    foreach (var path in stale)
        Console.Error.WriteLine($"stale: {path} does not match {BindingsGenerator.HeaderPath}; regenerate with: dotnet run --project bindings/generator/ExeGPT.BindingsGenerator");
    if (stale.Count > 0)
        return 1;
    Console.WriteLine($"bindings up to date ({files.Count} files)");
    return 0;
}

var written = BindingsGenerator.Write(root, files);
foreach (var file in files)
    Console.WriteLine($"{(written.Contains(file.RelativePath) ? "wrote" : "unchanged")}: {file.RelativePath}");
return 0;
