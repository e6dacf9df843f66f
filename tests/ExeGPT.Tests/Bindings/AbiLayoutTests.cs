using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ExeGPT.Tests.Bindings;

/// <summary>
/// The generated C# structs lay out exactly as the C++ compiler laid out the native ones, as reported by the
/// library's generated ABI table (exg_abi_struct_size / exg_abi_field_offset).
/// </summary>
public sealed unsafe class AbiLayoutTests
{
    /// <summary>Every generated struct with fields (opaque handles have none and are only used through pointers).</summary>
    private static IEnumerable<Type> Structs() =>
        typeof(NativeMethods).Assembly.GetTypes()
            .Where(t => t.Namespace == "ExeGPT.Native.Interop" && t.IsValueType && !t.IsEnum && !t.IsNested)
            .Where(t => t.GetFields(BindingFlags.Instance | BindingFlags.Public).Length > 0)
            .OrderBy(t => t.Name, StringComparer.Ordinal);

    private static IEnumerable<TestCaseData> StructCases() =>
        Structs().Select(t => new TestCaseData(t).SetName($"Size({t.Name})"));

    private static IEnumerable<TestCaseData> FieldCases() =>
        Structs().SelectMany(t => t.GetFields(BindingFlags.Instance | BindingFlags.Public)
            .Select(f => new TestCaseData(t, f.Name).SetName($"Offset({t.Name}.{f.Name})")));

    [TestCaseSource(nameof(StructCases))]
    public void Struct_size_matches_native(Type type)
    {
        var native = NativeStructSize(type.Name);
        var unsafeSize = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        Assert.Multiple(() =>
        {
            Assert.That((ulong)unsafeSize, Is.EqualTo(native), "Unsafe.SizeOf");
            Assert.That((ulong)Marshal.SizeOf(type), Is.EqualTo(native), "Marshal.SizeOf");
        });
    }

    [TestCaseSource(nameof(FieldCases))]
    public void Field_offset_matches_native(Type type, string field) =>
        Assert.That((ulong)Marshal.OffsetOf(type, field), Is.EqualTo(NativeFieldOffset(type.Name, field)));

    [Test]
    public void Every_struct_of_the_header_is_covered()
    {
        var names = Structs().Select(t => t.Name).ToList();
        Assert.That(names, Is.SupersetOf(new[] { "exg_model_config", "exg_model_params", "exg_batch", "exg_sampling_params" }));
        // An unknown name must fail, or the comparisons above could pass against a table that answers anything.
        ulong size;
        fixed (byte* name = "exg_not_a_struct\0"u8)
            Assert.That(NativeMethods.exg_abi_struct_size(name, &size), Is.EqualTo(exg_status.EXG_ERR_INVALID_ARGUMENT));
    }

    private static ulong NativeStructSize(string structName)
    {
        ulong size;
        fixed (byte* name = Encoding.UTF8.GetBytes(structName + "\0"))
            Expect(NativeMethods.exg_abi_struct_size(name, &size), structName);
        return size;
    }

    private static ulong NativeFieldOffset(string structName, string fieldName)
    {
        ulong offset;
        fixed (byte* s = Encoding.UTF8.GetBytes(structName + "\0"))
        fixed (byte* f = Encoding.UTF8.GetBytes(fieldName + "\0"))
            Expect(NativeMethods.exg_abi_field_offset(s, f, &offset), $"{structName}.{fieldName}");
        return offset;
    }

    private static void Expect(exg_status status, string what)
    {
        if (status != exg_status.EXG_OK)
            Assert.Fail($"the native ABI table does not know {what}: {Marshal.PtrToStringUTF8((nint)NativeMethods.exg_last_error_message())}");
    }
}
