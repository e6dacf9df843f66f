namespace ExeGPT.BindingsGenerator;

/// <summary>The header could not be mapped faithfully; carries every problem found, not just the first.</summary>
public sealed class GeneratorException(IReadOnlyList<string> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
