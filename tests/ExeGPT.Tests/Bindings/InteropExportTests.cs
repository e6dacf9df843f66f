using System.Reflection;
using System.Runtime.InteropServices;

namespace ExeGPT.Tests.Bindings;

/// <summary>Every generated import names a symbol the loaded libexegpt really exports.</summary>
public sealed class InteropExportTests
{
    private nint _library;

    private static IEnumerable<TestCaseData> Imports() =>
        typeof(NativeMethods).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (Method: m, Import: m.GetCustomAttribute<LibraryImportAttribute>()))
            .Where(x => x.Import is not null)
            .Select(x => x.Import!.EntryPoint ?? x.Method.Name)
            .Order(StringComparer.Ordinal)
            .Select(entryPoint => new TestCaseData(entryPoint).SetName($"Export({entryPoint})"));

    [OneTimeSetUp]
    public void OpenLibrary()
    {
        NativeLibraryLoader.Initialize();
        // Load by the path the loader used: the same handle, one more reference, released below.
        _library = NativeLibrary.Load(NativeLibraryLoader.LoadedPath!);
    }

    [OneTimeTearDown]
    public void CloseLibrary() => NativeLibrary.Free(_library);

    [TestCaseSource(nameof(Imports))]
    public void Import_resolves_to_an_export(string entryPoint) =>
        Assert.That(NativeLibrary.TryGetExport(_library, entryPoint, out _), Is.True,
            $"libexegpt at {NativeLibraryLoader.LoadedPath} does not export {entryPoint}");

    [Test]
    public void Imports_cover_the_whole_header()
    {
        // Guards the test source above: a reflection slip must not turn every case into a silent no-op.
        var entryPoints = Imports().Select(c => (string)c.Arguments[0]!).ToList();
        Assert.That(entryPoints, Does.Contain("exg_api_version").And.Contain("exg_model_prefill").And.Contain("exg_abi_field_offset"));
        Assert.That(entryPoints, Has.All.StartWith("exg_"));
    }
}
