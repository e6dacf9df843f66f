namespace ExeGPT.Core;

/// <summary>A spec, preset, trace, profile or schedule the planner cannot use; the message names the
/// bad thing and what would be accepted.</summary>
public sealed class SpecException(string message, Exception? inner = null) : Exception(message, inner);
