using System.CommandLine;

namespace ExeGPT.Cli;

/// <summary>Range checks reported as parse errors that name the option as the user typed it.</summary>
internal static class OptionRules
{
    public static Option<int> AtLeast(this Option<int> option, int minimum)
    {
        option.Validators.Add(result =>
        {
            int value = result.GetValueOrDefault<int>();
            if (value < minimum)
                result.AddError($"{option.Name} must be at least {minimum} (got {value}).");
        });
        return option;
    }
}
