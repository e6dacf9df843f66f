using System.Globalization;
using ExeGPT.Core.Random;

namespace ExeGPT.Core.Workloads;

/// <summary>Seeded draws of query lengths from a workload; the same seed gives the same queries on every
/// runtime (our own xoshiro256** generator).</summary>
/// <remarks>With a trace: rows drawn uniformly with replacement. Otherwise each query takes two uniforms
/// u₁, u₂: input = F_in⁻¹(u₁) and, at correlation 0, output = F_out⁻¹(u₂); at correlation ρ ≠ 0 the pair is
/// joined by a Gaussian copula, output = F_out⁻¹(Φ(ρ·Φ⁻¹(u₁) + √(1−ρ²)·Φ⁻¹(u₂))). ρ is the copula's
/// parameter; the lengths' own Pearson r comes out close to it but, for bounded skewed marginals, a little
/// smaller in magnitude.</remarks>
public static class WorkloadSampler
{
    /// <summary><paramref name="count"/> queries drawn with <paramref name="seed"/>; the first
    /// <paramref name="count"/> items of <see cref="Stream"/> with the same seed.</summary>
    public static IReadOnlyList<QueryLengths> Sample(WorkloadSpec workload, int count, ulong seed)
    {
        if (count < 0)
            throw new ArgumentOutOfRangeException(nameof(count), count, "the sample size cannot be negative");
        var generator = new Generator(workload, seed);
        var queries = new QueryLengths[count];
        for (int i = 0; i < count; i++)
            queries[i] = generator.Next();
        return queries;
    }

    /// <summary>An endless seeded stream of queries (take what you need).</summary>
    public static IEnumerable<QueryLengths> Stream(WorkloadSpec workload, ulong seed)
    {
        var generator = new Generator(workload, seed);   // validates now, not at the first MoveNext
        return Endless(generator);

        static IEnumerable<QueryLengths> Endless(Generator g)
        {
            while (true)
                yield return g.Next();
        }
    }

    private sealed class Generator
    {
        private readonly WorkloadSpec _workload;
        private readonly IReadOnlyList<QueryLengths>? _trace;
        private readonly Xoshiro256StarStar _rng;
        private readonly double _rho, _rhoComplement;

        public Generator(WorkloadSpec workload, ulong seed)
        {
            ArgumentNullException.ThrowIfNull(workload);
            if (workload.Trace is { Count: 0 })
                throw new SpecException($"workload '{workload.Name}': the trace has no rows to sample");
            if (!(workload.Correlation >= -1 && workload.Correlation <= 1))
                throw new SpecException(string.Create(CultureInfo.InvariantCulture,
                    $"workload '{workload.Name}': correlation must be in [-1, 1], got {workload.Correlation}"));
            _workload = workload;
            _trace = workload.Trace;
            _rng = new Xoshiro256StarStar(seed);
            _rho = workload.Correlation;
            _rhoComplement = Math.Sqrt(1 - _rho * _rho);
        }

        public QueryLengths Next()
        {
            if (_trace is not null)
                return _trace[_rng.NextInt(_trace.Count)];
            double u1 = _rng.NextDouble(), u2 = _rng.NextDouble();
            int input = _workload.Input.Sample(u1);
            if (_rho != 0)
            {
                // Φ⁻¹ of 0 is −∞; the smallest positive double keeps the copula finite.
                double z1 = NormalMath.InverseCdf(Math.Max(u1, double.Epsilon));
                double z2 = NormalMath.InverseCdf(Math.Max(u2, double.Epsilon));
                u2 = NormalMath.Cdf(_rho * z1 + _rhoComplement * z2);
            }
            return new QueryLengths(input, _workload.Output.Sample(u2));
        }
    }
}
