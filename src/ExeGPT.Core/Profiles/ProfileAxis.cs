using System.Globalization;

namespace ExeGPT.Core.Profiles;

/// <summary>One axis of a profile table: a named, strictly increasing list of finite, non-negative points
/// (batch sizes, lengths, token counts or bytes). Lookups binary-search it and never allocate.</summary>
public sealed class ProfileAxis
{
    /// <summary>Queries this close to an edge (relative) count as on the edge: grids written as decimal
    /// text and expected values computed in another order must not fail by a rounding step.</summary>
    internal const double EdgeTolerance = 1e-9;

    private readonly double[] _points;

    /// <summary>Copies and validates <paramref name="points"/>.</summary>
    /// <param name="name">The variable, e.g. "batch", "seq_len", "tokens", "bytes".</param>
    /// <param name="points">At least one point, strictly increasing, finite and non-negative.</param>
    /// <exception cref="SpecException">The points are empty, non-finite, negative or not strictly increasing.</exception>
    public ProfileAxis(string name, IEnumerable<double> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        Name = string.IsNullOrWhiteSpace(name) ? throw new SpecException("profile axis: name is empty") : name;
        _points = points.ToArray();
        if (_points.Length == 0)
            throw new SpecException($"profile axis '{name}': needs at least one point");
        for (int i = 0; i < _points.Length; i++)
        {
            double p = _points[i];
            if (!double.IsFinite(p) || p < 0)
                throw new SpecException($"profile axis '{name}': point {i} is {Format(p)}; points must be finite and non-negative");
            if (i > 0 && p <= _points[i - 1])
                throw new SpecException(
                    $"profile axis '{name}': points must be strictly increasing, but point {i} ({Format(p)}) follows {Format(_points[i - 1])}");
        }
    }

    /// <summary>The variable this axis indexes.</summary>
    public string Name { get; }

    /// <summary>The grid points, strictly increasing.</summary>
    public IReadOnlyList<double> Points => _points;

    /// <summary>Number of points.</summary>
    public int Count => _points.Length;

    /// <summary>Smallest point.</summary>
    public double First => _points[0];

    /// <summary>Largest point.</summary>
    public double Last => _points[^1];

    /// <summary>True when <paramref name="value"/> lies in [First, Last] (edges within 1e-9 relative).</summary>
    public bool Covers(double value) =>
        value >= First - EdgeTolerance * First && value <= Last + EdgeTolerance * Last; // false for NaN

    /// <summary>Finds the segment holding <paramref name="value"/>: interpolate between points
    /// <paramref name="lower"/> and <paramref name="upper"/> with weight <paramref name="weight"/> on the upper
    /// one. False when the value is outside the grid. No allocation.</summary>
    internal bool TryLocate(double value, out int lower, out int upper, out double weight)
    {
        lower = upper = 0;
        weight = 0;
        if (!Covers(value))
            return false;
        int n = _points.Length;
        if (n == 1 || value <= _points[0])
            return true;
        if (value >= _points[n - 1])
        {
            lower = upper = n - 1;
            return true;
        }
        // Invariant: _points[lo] < value < _points[hi]; ends were handled above.
        int lo = 0, hi = n - 1;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) >>> 1;
            double p = _points[mid];
            if (value == p)
            {
                lower = upper = mid; // exactly on a grid point: no arithmetic, so grid values come back bit-exact
                return true;
            }
            if (value < p) hi = mid; else lo = mid;
        }
        lower = lo;
        upper = hi;
        weight = (value - _points[lo]) / (_points[hi] - _points[lo]);
        return true;
    }

    /// <summary>"[first, last]" for error messages.</summary>
    internal string RangeText => $"[{Format(First)}, {Format(Last)}]";

    internal static string Format(double value) => value.ToString("G10", CultureInfo.InvariantCulture);
}
