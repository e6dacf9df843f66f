using System.Runtime.InteropServices;
using ExeGPT.Tests.Support;

namespace ExeGPT.Tests.Bindings;

/// <summary>Failed native calls surface as <see cref="ExgException"/> with the library's status and message.</summary>
public sealed unsafe class NativeErrorTests
{
    [Test]
    public void Unknown_preset_raises_invalid_argument_naming_it_and_the_library_keeps_working()
    {
        ErrorAssert.Throws(() => ModelConfigs.Preset("no-such-model"), exg_status.EXG_ERR_INVALID_ARGUMENT, "no-such-model");
        var tiny = ModelConfigs.Preset("tiny");
        Assert.That(tiny.num_layers, Is.GreaterThan(0));
        Assert.DoesNotThrow(() => ModelConfigs.Validate(tiny));
    }

    [Test]
    public void Inconsistent_config_is_rejected_by_validate()
    {
        var config = ModelConfigs.Preset("tiny");
        config.num_heads = config.hidden_size + 1;
        ErrorAssert.Throws(() => ModelConfigs.Validate(config), exg_status.EXG_ERR_INVALID_ARGUMENT, "head");
    }

    [Test]
    public void Message_is_cleared_by_the_next_successful_call()
    {
        var config = new exg_model_config(); // struct_size 0: the ABI rule makes the library refuse it
        Assert.That(NativeMethods.exg_config_validate(&config), Is.EqualTo(exg_status.EXG_ERR_INVALID_ARGUMENT));
        Assert.That(Message(), Does.Contain("struct_size"));
        Assert.That(NativeMethods.exg_config_preset_count(), Is.GreaterThan(0));
        config = ModelConfigs.Preset("tiny");
        Assert.That(NativeMethods.exg_config_validate(&config), Is.EqualTo(exg_status.EXG_OK));
        Assert.That(Message(), Is.Empty);
    }

    [Test]
    public void Status_names_come_from_the_library()
    {
        foreach (var status in Enum.GetValues<exg_status>())
            Assert.That(Marshal.PtrToStringUTF8((nint)NativeMethods.exg_status_name(status)), Is.EqualTo(status.ToString()));
    }

    [Test]
    public void Full_cache_raises_capacity_and_recovers_after_a_slot_is_freed()
    {
        using var loaded = LoadedModel.FromPreset("tiny", seed: 1);
        using var cache = new KvCache(loaded.Model, maxSlots: 2, maxSeqLen: 16);
        Assert.That(new[] { cache.AllocSlot(), cache.AllocSlot() }, Is.EqualTo(new[] { 0, 1 }));
        ErrorAssert.Throws(() => cache.AllocSlot(), exg_status.EXG_ERR_CAPACITY);
        cache.FreeSlot(0);
        Assert.That(cache.AllocSlot(), Is.EqualTo(0));
    }

    [Test]
    public void Bad_model_options_raise_invalid_argument()
    {
        using var backend = Backend.CreateCpu(numThreads: 1);
        var config = ModelConfigs.Preset("tiny");
        ErrorAssert.Throws(() => Model.Create(backend, new ModelOptions { Config = config, LayerBegin = 1, LayerEnd = 1 }).Dispose(),
            exg_status.EXG_ERR_INVALID_ARGUMENT, "layer");
    }

    [Test]
    public void A_device_failure_keeps_its_own_status_through_the_exception_path()
    {
        // The status is whatever the library returned; with no message left on the thread, its name stands in.
        var config = ModelConfigs.Preset("tiny");
        Assert.That(NativeMethods.exg_config_validate(&config), Is.EqualTo(exg_status.EXG_OK), "a successful call clears the message");
        var failure = Assert.Throws<ExgException>(() => ExeGPT.Native.Internal.NativeStatus.Check(exg_status.EXG_ERR_DEVICE))!;
        Assert.That(failure.Status, Is.EqualTo(exg_status.EXG_ERR_DEVICE));
        Assert.That(failure.Message, Is.EqualTo("EXG_ERR_DEVICE"));
        Assert.That(ExeGPT.Runtime.RootCause.IsCollectiveFailure(failure), Is.False, "a GPU failure is a root cause, not an echo");
    }

    private static string Message() => Marshal.PtrToStringUTF8((nint)NativeMethods.exg_last_error_message()) ?? "";
}
