namespace ExeGPT.Tests;

/// <summary>Resolves libexegpt and checks its ABI version once, before any test of this assembly's namespace.</summary>
[SetUpFixture]
public sealed class NativeSetup
{
    [OneTimeSetUp]
    public void LoadNativeLibrary() => NativeLibraryLoader.Initialize();
}
