namespace ExeGPT.Core.Profiles;

/// <summary>Times over a batch × length grid, bilinearly interpolated. Values are row-major: one row per
/// <see cref="Rows"/> point (batch), one column per <see cref="Columns"/> point (length).</summary>
public sealed class ProfileTable2D
{
    private readonly double[] _times;
    private readonly string _label;

    /// <summary>Copies and validates the columns; each holds Rows.Count × Columns.Count values, row-major.</summary>
    /// <param name="name">Table name as in the file, e.g. "decoder.attention".</param>
    /// <param name="tensorParallel">The TP degree the table is for.</param>
    /// <param name="rows">First axis (batch).</param>
    /// <param name="columns">Second axis (seq_len, context or encoder_len).</param>
    /// <param name="times">Seconds per grid point, row-major.</param>
    /// <param name="spread">Optional measured spread per point in seconds.</param>
    /// <param name="flops">Optional FLOPs per point.</param>
    /// <param name="memoryBytes">Optional memory traffic per point.</param>
    /// <exception cref="SpecException">A column has the wrong length or a negative/non-finite value.</exception>
    public ProfileTable2D(string name, int? tensorParallel, ProfileAxis rows, ProfileAxis columns, IEnumerable<double> times,
        IEnumerable<double>? spread = null, IEnumerable<double>? flops = null, IEnumerable<double>? memoryBytes = null)
    {
        ProfileValues.RequireName(name);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(columns);
        Name = name;
        TensorParallel = tensorParallel;
        Rows = rows;
        Columns = columns;
        _label = ProfileValues.Label(name, tensorParallel);
        int count = rows.Count * columns.Count;
        _times = ProfileValues.Copy(_label, "time_s", times, count, required: true)!;
        Spread = ProfileValues.Copy(_label, "spread_s", spread, count, required: false);
        Flops = ProfileValues.Copy(_label, "flops", flops, count, required: false);
        MemoryBytes = ProfileValues.Copy(_label, "memory_bytes", memoryBytes, count, required: false);
    }

    /// <summary>Table name, e.g. "encoder.attention".</summary>
    public string Name { get; }

    /// <summary>TP degree of the table; null when not per degree.</summary>
    public int? TensorParallel { get; }

    /// <summary>First axis (batch).</summary>
    public ProfileAxis Rows { get; }

    /// <summary>Second axis (a length).</summary>
    public ProfileAxis Columns { get; }

    /// <summary>Seconds per grid point, row-major.</summary>
    public IReadOnlyList<double> Times => _times;

    /// <summary>Measured spread per point (seconds, row-major), or null.</summary>
    public IReadOnlyList<double>? Spread { get; }

    /// <summary>FLOPs per point (row-major), or null.</summary>
    public IReadOnlyList<double>? Flops { get; }

    /// <summary>Bytes moved per point (row-major), or null.</summary>
    public IReadOnlyList<double>? MemoryBytes { get; }

    /// <summary>Seconds at grid point (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public double TimeAt(int row, int column) => _times[row * Columns.Count + column];

    /// <summary>Bilinear interpolation; exact on grid points, linear along grid lines. No allocation.</summary>
    /// <exception cref="ProfileRangeException">A coordinate is outside its axis (or NaN).</exception>
    public double Evaluate(double row, double column)
    {
        if (!Rows.TryLocate(row, out int r0, out int r1, out double wr))
            throw ProfileValues.OutOfRange(_label, Rows, row);
        if (!Columns.TryLocate(column, out int c0, out int c1, out double wc))
            throw ProfileValues.OutOfRange(_label, Columns, column);
        int n = Columns.Count;
        double lower = Lerp(_times[r0 * n + c0], _times[r0 * n + c1], c0 == c1 ? 0 : wc);
        if (r0 == r1)
            return lower;
        double upper = Lerp(_times[r1 * n + c0], _times[r1 * n + c1], c0 == c1 ? 0 : wc);
        return Lerp(lower, upper, wr);
    }

    private static double Lerp(double a, double b, double w) => w == 0 ? a : (1 - w) * a + w * b;
}
