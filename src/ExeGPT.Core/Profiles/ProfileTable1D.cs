namespace ExeGPT.Core.Profiles;

/// <summary>Times over one axis (tokens or bytes), linearly interpolated between grid points.</summary>
public sealed class ProfileTable1D
{
    private readonly double[] _times;
    private readonly string _label;

    /// <summary>Copies and validates the columns; each must have one value per grid point.</summary>
    /// <param name="name">Table name as in the file, e.g. "encoder.rest", "all_reduce", "send.intra_node".</param>
    /// <param name="tensorParallel">The TP degree the table is for; null for tables that have none (send).</param>
    /// <param name="axis">The grid.</param>
    /// <param name="times">Seconds per grid point.</param>
    /// <param name="spread">Optional measured spread per point in seconds (e.g. p90 − p10).</param>
    /// <param name="flops">Optional FLOPs per point, to report achieved FLOP/s.</param>
    /// <param name="memoryBytes">Optional memory traffic per point, to report achieved bytes/s.</param>
    /// <exception cref="SpecException">A column has the wrong length or a negative/non-finite value.</exception>
    public ProfileTable1D(string name, int? tensorParallel, ProfileAxis axis, IEnumerable<double> times,
        IEnumerable<double>? spread = null, IEnumerable<double>? flops = null, IEnumerable<double>? memoryBytes = null)
    {
        ProfileValues.RequireName(name);
        ArgumentNullException.ThrowIfNull(axis);
        Name = name;
        TensorParallel = tensorParallel;
        Axis = axis;
        _label = ProfileValues.Label(name, tensorParallel);
        _times = ProfileValues.Copy(_label, "time_s", times, axis.Count, required: true)!;
        Spread = ProfileValues.Copy(_label, "spread_s", spread, axis.Count, required: false);
        Flops = ProfileValues.Copy(_label, "flops", flops, axis.Count, required: false);
        MemoryBytes = ProfileValues.Copy(_label, "memory_bytes", memoryBytes, axis.Count, required: false);
    }

    /// <summary>Table name, e.g. "decoder.rest".</summary>
    public string Name { get; }

    /// <summary>TP degree of the table; null when not per degree.</summary>
    public int? TensorParallel { get; }

    /// <summary>The grid.</summary>
    public ProfileAxis Axis { get; }

    /// <summary>Seconds per grid point.</summary>
    public IReadOnlyList<double> Times => _times;

    /// <summary>Measured spread per point (seconds), or null.</summary>
    public IReadOnlyList<double>? Spread { get; }

    /// <summary>FLOPs per point, or null.</summary>
    public IReadOnlyList<double>? Flops { get; }

    /// <summary>Bytes moved per point, or null.</summary>
    public IReadOnlyList<double>? MemoryBytes { get; }

    /// <summary>Linear interpolation at <paramref name="x"/>; exact on grid points. No allocation.</summary>
    /// <exception cref="ProfileRangeException"><paramref name="x"/> is outside the grid (or NaN).</exception>
    public double Evaluate(double x)
    {
        if (!Axis.TryLocate(x, out int lo, out int hi, out double w))
            throw ProfileValues.OutOfRange(_label, Axis, x);
        return lo == hi ? _times[lo] : (1 - w) * _times[lo] + w * _times[hi];
    }
}
