using System.Diagnostics;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>
/// Runs the built bindings generator (bindings/generator/ExeGPT.BindingsGenerator): the checked-in generated files
/// must match the header, a stale file must be named, and a construct the generator cannot map must stop it.
/// </summary>
public sealed class BindingsGeneratorTests
{
    private const string CSharpFile = "bindings/ExeGPT.Native.Bindings/Generated/NativeMethods.g.cs";
    private const string LayoutFile = "native/src/api/abi_layout.g.inc";
    private const string Header = "native/include/exegpt/exegpt.h";

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ExeGPT.Native.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no ExeGPT.Native.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>The generator built with the solution, in this test build's configuration first.</summary>
    private static string GeneratorDll(string root)
    {
#if DEBUG
        string[] configurations = ["Debug", "Release"];
#else
        string[] configurations = ["Release", "Debug"];
#endif
        var candidates = new[] { AppContext.BaseDirectory }
            .Concat(configurations.Select(c => Path.Combine(root, "bindings/generator/ExeGPT.BindingsGenerator/bin", c, "net10.0")))
            .Select(dir => Path.Combine(dir, "ExeGPT.BindingsGenerator.dll"))
            .ToList();
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"the bindings generator is not built (build ExeGPT.Native.sln); looked for {string.Join(", ", candidates)}");
    }

    private static (int ExitCode, string Output) RunGenerator(params string[] args)
    {
        var root = RepoRoot();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(GeneratorDll(root));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the generator did not finish within 60 s");
        }
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>A scratch repository root holding a copy of the header and the generated files.</summary>
    private static TempDirectory ScratchRoot(string label, string? header = null)
    {
        var root = RepoRoot();
        var scratch = new TempDirectory(label);
        foreach (var file in new[] { Header, CSharpFile, LayoutFile })
        {
            var target = Path.Combine(scratch.Path, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(root, file), target);
        }
        if (header is not null)
            File.WriteAllText(Path.Combine(scratch.Path, Header), header);
        return scratch;
    }

    [Test]
    public void Checked_in_files_match_the_header()
    {
        var (exitCode, output) = RunGenerator("--check", "--root", RepoRoot());
        Assert.That(exitCode, Is.Zero, output);
    }

    [Test]
    public void Check_names_each_stale_file_and_regeneration_fixes_it()
    {
        using var scratch = ScratchRoot("gen-stale");
        File.AppendAllText(Path.Combine(scratch.Path, CSharpFile), "// hand edit\n");
        File.Delete(Path.Combine(scratch.Path, LayoutFile));

        var (exitCode, output) = RunGenerator("--check", "--root", scratch.Path);
        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain($"stale: {CSharpFile}").And.Contain($"stale: {LayoutFile}"));

        Assert.That(RunGenerator("--root", scratch.Path).ExitCode, Is.Zero);
        Assert.That(RunGenerator("--check", "--root", scratch.Path).ExitCode, Is.Zero);
        Assert.That(File.ReadAllText(Path.Combine(scratch.Path, LayoutFile)),
            Is.EqualTo(File.ReadAllText(Path.Combine(RepoRoot(), LayoutFile))));
    }

    [Test]
    public void Header_changes_flow_into_both_outputs()
    {
        var header = File.ReadAllText(Path.Combine(RepoRoot(), Header)).Replace(
            "    int32_t max_seq_len; /* tokens per slot; <= config.max_positions */",
            "    int32_t max_seq_len; /* tokens per slot; <= config.max_positions */\n    uint64_t extra_field;",
            StringComparison.Ordinal);
        using var scratch = ScratchRoot("gen-change", header);
        Assert.That(RunGenerator("--root", scratch.Path).ExitCode, Is.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(scratch.Path, LayoutFile)), Does.Contain("EXG_ABI_FIELD(exg_kv_cache_params, extra_field)"));
            Assert.That(File.ReadAllText(Path.Combine(scratch.Path, CSharpFile)), Does.Contain("public ulong extra_field;"));
        });
    }

    [Test]
    public void A_char_array_field_is_a_fixed_byte_buffer()
    {
        // A text field such as a device name: UTF-8 bytes, as const char* maps to byte*.
        var header = File.ReadAllText(Path.Combine(RepoRoot(), Header)).Replace(
            "#ifdef __cplusplus\n}", "typedef struct exg_labelled { uint32_t struct_size; char label[24]; } exg_labelled;\n\n#ifdef __cplusplus\n}",
            StringComparison.Ordinal);
        using var scratch = ScratchRoot("gen-char-array", header);
        var (exitCode, output) = RunGenerator("--root", scratch.Path);
        Assert.That(exitCode, Is.Zero, output);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(scratch.Path, CSharpFile)), Does.Contain("public fixed byte label[24];"));
            Assert.That(File.ReadAllText(Path.Combine(scratch.Path, LayoutFile)), Does.Contain("EXG_ABI_FIELD(exg_labelled, label)"));
        });
    }

    [Test]
    public void Unmappable_constructs_stop_the_generator_each_named_with_its_location()
    {
        // One run for all of them: the generator reports every problem, not just the first.
        (string Declaration, string Reason)[] cases =
        [
            ("typedef struct exg_bad_bool { _Bool on; } exg_bad_bool;", "on: '_Bool': bool"),
            ("typedef struct exg_bad_long { long n; } exg_bad_long;", "n: 'long': long differs"),
            ("typedef struct exg_bad_char { char c; } exg_bad_char;", "c: 'char': plain char"),
            ("typedef struct exg_bad_bits { uint32_t a : 3; } exg_bad_bits;", "a: bit-fields"),
            ("typedef union exg_bad_union { int32_t a; float b; } exg_bad_union;", "exg_bad_union: unions"),
            ("typedef struct __attribute__((packed)) exg_bad_packed { uint8_t a; uint32_t b; } exg_bad_packed;", "b: offset 1 is not the natural 4"),
            ("EXG_API void exg_bad_callback(void (*fn)(void));", "exg_bad_callback: 'void (*)(void)': function pointers"),
            ("EXG_API int32_t exg_bad_sum(int32_t n, ...);", "exg_bad_sum: variadic"),
            ("int32_t exg_bad_hidden(void);", "exg_bad_hidden: not declared EXG_API"),
            ("#define EXG_BAD_SCALE 1.5f", "EXG_BAD_SCALE: only macros whose body is one integer literal"),
        ];
        var header = File.ReadAllText(Path.Combine(RepoRoot(), Header)).Replace(
            "#ifdef __cplusplus\n}", string.Join("\n", cases.Select(c => c.Declaration)) + "\n\n#ifdef __cplusplus\n}",
            StringComparison.Ordinal);
        Assert.That(header, Does.Contain(cases[0].Declaration), "the test could not insert its declarations");
        using var scratch = ScratchRoot("gen-bad", header);
        var before = File.ReadAllText(Path.Combine(scratch.Path, CSharpFile));

        var (exitCode, output) = RunGenerator("--root", scratch.Path);
        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.Multiple(() =>
        {
            foreach (var (_, reason) in cases)
                Assert.That(output, Does.Match(@"exegpt\.h:\d+:\d+: " + System.Text.RegularExpressions.Regex.Escape(reason)));
        });
        Assert.That(File.ReadAllText(Path.Combine(scratch.Path, CSharpFile)), Is.EqualTo(before), "nothing is written on failure");
    }
}
