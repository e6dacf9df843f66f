using System.Runtime.InteropServices;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>
/// The loader's search and checks. The library is already loaded for the whole test run, so failure paths are
/// exercised either through Initialize's "already loaded" checks or through the loader's internal steps, never by
/// unloading the library other tests use.
/// </summary>
public sealed class NativeLibraryLoaderTests
{
    [Test]
    public void Loaded_library_has_the_bindings_api_version()
    {
        NativeLibraryLoader.Initialize();
        Assert.Multiple(() =>
        {
            Assert.That(NativeMethods.exg_api_version(), Is.EqualTo(NativeMethods.ApiVersion));
            Assert.That(File.Exists(NativeLibraryLoader.LoadedPath), Is.True, $"LoadedPath = {NativeLibraryLoader.LoadedPath}");
        });
    }

    [Test]
    public void Initialize_again_with_the_loaded_file_or_its_folder_is_a_no_op()
    {
        NativeLibraryLoader.Initialize();
        var path = NativeLibraryLoader.LoadedPath!;
        Assert.DoesNotThrow(() => NativeLibraryLoader.Initialize(path));
        Assert.DoesNotThrow(() => NativeLibraryLoader.Initialize(Path.GetDirectoryName(path)));
        Assert.That(NativeLibraryLoader.LoadedPath, Is.EqualTo(path));
    }

    [Test]
    public void Bogus_explicit_path_lists_every_path_tried_and_the_loaded_library_keeps_working()
    {
        NativeLibraryLoader.Initialize();
        using var empty = new TempDirectory("loader-empty");
        var ex = Assert.Throws<DllNotFoundException>(() => NativeLibraryLoader.Initialize(empty.Path))!;
        Assert.That(ex.Message, Does.Contain(Path.Combine(empty.Path, NativeLibraryLoader.FileName)));
        var file = Path.Combine(empty.Path, "nested", "libexegpt.so");
        ex = Assert.Throws<DllNotFoundException>(() => NativeLibraryLoader.Initialize(file))!;
        Assert.That(ex.Message, Does.Contain(file));
        using var backend = Backend.CreateCpu(numThreads: 1);
        Assert.That(backend.Name, Is.EqualTo("cpu"));
    }

    [Test]
    public void Another_copy_of_the_library_is_refused_once_one_is_loaded()
    {
        NativeLibraryLoader.Initialize();
        using var dir = new TempDirectory("loader-copy");
        var copy = Path.Combine(dir.Path, "libexegpt.so");
        File.Copy(NativeLibraryLoader.LoadedPath!, copy);
        var ex = Assert.Throws<InvalidOperationException>(() => NativeLibraryLoader.Initialize(copy))!;
        Assert.That(ex.Message, Does.Contain(NativeLibraryLoader.LoadedPath!).And.Contain(copy));
    }

    [Test]
    public void First_load_failure_names_each_candidate_and_why_it_failed()
    {
        using var dir = new TempDirectory("loader-bad");
        var missing = Path.Combine(dir.Path, "missing", "libexegpt.so");
        var notALibrary = Path.Combine(dir.Path, "libexegpt.so");
        File.WriteAllText(notALibrary, "not an ELF file");
        var ex = Assert.Throws<DllNotFoundException>(() => NativeLibraryLoader.LoadFirst([missing, notALibrary]))!;
        Assert.That(ex.Message, Does.Contain($"{missing} (not found)").And.Contain(notALibrary).And.Contain(NativeLibraryLoader.PathVariable));
    }

    [Test]
    public void A_library_without_the_api_version_export_is_rejected()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("uses glibc's libc.so.6 as a library that is not libexegpt");
        var libc = NativeLibrary.Load("libc.so.6");
        try
        {
            var ex = Assert.Throws<ExgException>(() => NativeLibraryLoader.CheckApiVersion(libc, "libc.so.6"))!;
            Assert.That(ex.Status, Is.EqualTo(exg_status.EXG_ERR_UNSUPPORTED));
            Assert.That(ex.Message, Does.Contain("exg_api_version"));
        }
        finally
        {
            NativeLibrary.Free(libc);
        }
    }

    [Test]
    public void Search_order_is_explicit_then_variable_then_beside_the_app_then_runtimes()
    {
        using var dir = new TempDirectory("loader-order");
        var file = Path.Combine(dir.Path, "custom.so");
        var app = Path.Combine(dir.Path, "app");
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var rid = $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        var name = NativeLibraryLoader.FileName;
        Assert.Multiple(() =>
        {
            // A given path is authoritative: nothing else is searched.
            Assert.That(NativeLibraryLoader.CandidatePaths(file, dir.Path, app), Is.EqualTo(new[] { file }));
            Assert.That(NativeLibraryLoader.CandidatePaths(null, file, app), Is.EqualTo(new[] { file }));
            // A folder is searched for the platform's file name.
            Assert.That(NativeLibraryLoader.CandidatePaths(dir.Path, null, app), Is.EqualTo(new[] { Path.Combine(dir.Path, name) }));
            Assert.That(NativeLibraryLoader.CandidatePaths(null, "", app), Is.EqualTo(new[]
            {
                Path.Combine(app, name), Path.Combine(app, "runtimes", rid, "native", name),
            }));
        });
        if (OperatingSystem.IsLinux())
            Assert.That(name, Is.EqualTo("libexegpt.so"));
    }
}
