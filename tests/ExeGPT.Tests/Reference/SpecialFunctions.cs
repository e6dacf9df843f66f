namespace ExeGPT.Tests.Reference;

/// <summary>
/// erf and the activations OPT uses, written from their definitions (System.Math has no Erf).
/// Accuracy of <see cref="Erf"/>: absolute error below 1e-14 over the whole real line (checked against
/// a libm erf on a 0.001 grid over [-8, 8] while writing it; SpecialFunctionsTests pins known values).
/// </summary>
public static class SpecialFunctions
{
    private static readonly double TwoOverSqrtPi = 2.0 / Math.Sqrt(Math.PI);

    public static double Erf(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        double ax = Math.Abs(x);
        // The Maclaurin series cancels badly for large |x| (terms grow like x^2n/n!), while the continued
        // fraction for erfc converges slowly near 0; 2.5 is where both are below 1e-14.
        double r = ax < 2.5 ? ErfSeries(ax) : 1.0 - ErfcContinuedFraction(ax);
        return x < 0 ? -r : r;
    }

    /// <summary>erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)).</summary>
    private static double ErfSeries(double x)
    {
        double x2 = x * x;
        double term = x; // (-1)^n x^(2n+1) / n!
        double sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= -x2 / n;
            double contribution = term / (2 * n + 1);
            sum += contribution;
            if (Math.Abs(contribution) < 1e-17 * Math.Abs(sum))
            {
                break;
            }
        }

        return TwoOverSqrtPi * sum;
    }

    /// <summary>
    /// Laplace's continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    /// evaluated bottom-up; 60 levels reach double precision for x >= 2.5.
    /// </summary>
    private static double ErfcContinuedFraction(double x)
    {
        double f = x;
        for (int k = 60; k >= 1; k--)
        {
            f = x + (k / 2.0) / f;
        }

        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    public static double Relu(double x) => x > 0 ? x : 0;

    /// <summary>HF "gelu": exact GELU, x * Phi(x).</summary>
    public static double Gelu(double x) => 0.5 * x * (1.0 + Erf(x / Math.Sqrt(2.0)));

    /// <summary>HF "gelu_new": the tanh approximation used by GPT-2.</summary>
    public static double GeluTanh(double x) =>
        0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static Func<double, double> Activation(string hfName) => hfName switch
    {
        "relu" => Relu,
        "gelu" => Gelu,
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => GeluTanh,
        _ => throw new ArgumentException($"the reference does not implement activation '{hfName}'", nameof(hfName)),
    };
}
