namespace ExeGPT.Core.Profiles;

/// <summary>Validation and messages shared by the 1-D and 2-D tables.</summary>
internal static class ProfileValues
{
    /// <summary>Copies <paramref name="values"/> (null stays null) and checks count, finiteness and sign.</summary>
    public static double[]? Copy(string label, string column, IEnumerable<double>? values, int expected, bool required)
    {
        if (values is null)
            return required ? throw new SpecException($"{label}: {column} is missing") : null;
        double[] copy = values.ToArray();
        if (copy.Length != expected)
            throw new SpecException($"{label}: {column} has {copy.Length} values but the grid has {expected} points");
        for (int i = 0; i < copy.Length; i++)
            if (!double.IsFinite(copy[i]) || copy[i] < 0)
                throw new SpecException(
                    $"{label}: {column}[{i}] is {ProfileAxis.Format(copy[i])}; values must be finite and non-negative");
        return copy;
    }

    public static string Label(string name, int? tensorParallel) =>
        tensorParallel is int tp ? $"profile table {name} (tp={tp})" : $"profile table {name}";

    public static ProfileRangeException OutOfRange(string label, ProfileAxis axis, double value) =>
        new($"{label}: {axis.Name} = {ProfileAxis.Format(value)} is outside the grid {axis.RangeText}");

    public static void RequireName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new SpecException("profile table: name is empty");
    }
}
