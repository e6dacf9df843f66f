// The generated interop may declare its structs and enums at namespace level or nested in NativeMethods;
// importing both ways keeps the tests independent of that choice.
global using ExeGPT.Native;
global using ExeGPT.Native.Interop;
global using static ExeGPT.Native.Interop.NativeMethods;
global using NUnit.Framework;
