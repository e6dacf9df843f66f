namespace ExeGPT.Tests.Reference;

/// <summary>
/// A deliberately plain Hugging Face OPT forward pass (OPTForCausalLM in eval mode, no padding) over
/// float weights with double accumulation. It recomputes the whole sequence every call and shares no
/// code with the engine, so agreement between the two means both follow the architecture.
/// </summary>
public sealed class OptReference
{
    private readonly OptSpec _spec;
    private readonly IReadOnlyDictionary<string, Tensor> _weights;
    private readonly Func<double, double> _activation;

    public OptReference(OptSpec spec, IReadOnlyDictionary<string, Tensor> weights)
    {
        _spec = spec;
        _weights = weights;
        _activation = SpecialFunctions.Activation(spec.Activation);
        foreach (var (name, shape) in OptTensorNames.Expected(spec))
        {
            var t = Weight(name);
            if (!t.Shape.SequenceEqual(shape))
            {
                throw new ArgumentException($"{name} has shape {t.ShapeText}, the spec needs [{string.Join(", ", shape)}]");
            }
        }
    }

    public OptSpec Spec => _spec;

    /// <summary>Logits of every position: result[t][v] is the score of token v following tokens[0..t].</summary>
    public double[][] Logits(IReadOnlyList<int> tokens)
    {
        if (tokens.Count == 0 || tokens.Count > _spec.MaxPositions)
        {
            throw new ArgumentException($"{tokens.Count} tokens; the model takes 1..{_spec.MaxPositions}");
        }

        var h = Embed(tokens);
        for (int layer = 0; layer < _spec.NumLayers; layer++)
        {
            h = DecoderLayer(h, $"model.decoder.layers.{layer}.");
        }

        if (_spec.HasFinalLayerNorm)
        {
            h = Map(h, x => LayerNorm(x, "model.decoder.final_layer_norm"));
        }

        if (_spec.HasProjections)
        {
            h = Map(h, x => Linear(x, "model.decoder.project_out.weight", null));
        }

        string head = _spec.TieWordEmbeddings ? "model.decoder.embed_tokens.weight" : "lm_head.weight";
        return Map(h, x => Linear(x, head, null));
    }

    /// <summary>Logits after the last token only.</summary>
    public double[] LastLogits(IReadOnlyList<int> tokens) => Logits(tokens)[^1];

    private double[][] Embed(IReadOnlyList<int> tokens)
    {
        var table = Weight("model.decoder.embed_tokens.weight");
        var positions = Weight("model.decoder.embed_positions.weight");
        var h = new double[tokens.Count][];
        for (int t = 0; t < tokens.Count; t++)
        {
            if (tokens[t] < 0 || tokens[t] >= _spec.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token {tokens[t]} outside the vocabulary");
            }

            var x = Row(table, tokens[t]);
            if (_spec.HasProjections)
            {
                x = Linear(x, "model.decoder.project_in.weight", null);
            }

            var p = Row(positions, t + OptSpec.PositionOffset);
            for (int i = 0; i < x.Length; i++)
            {
                x[i] += p[i];
            }

            h[t] = x;
        }

        return h;
    }

    /// <summary>HF OPTDecoderLayer: the LayerNorms sit before (pre-LN) or after (post-LN) each residual add.</summary>
    private double[][] DecoderLayer(double[][] h, string prefix)
    {
        bool pre = _spec.PreLayerNorm;

        var residual = h;
        var x = pre ? Map(h, v => LayerNorm(v, prefix + "self_attn_layer_norm")) : h;
        x = Add(residual, SelfAttention(x, prefix + "self_attn."));
        if (!pre)
        {
            x = Map(x, v => LayerNorm(v, prefix + "self_attn_layer_norm"));
        }

        residual = x;
        var y = pre ? Map(x, v => LayerNorm(v, prefix + "final_layer_norm")) : x;
        y = Map(y, v =>
        {
            var u = Linear(v, prefix + "fc1.weight", prefix + "fc1.bias");
            for (int i = 0; i < u.Length; i++)
            {
                u[i] = _activation(u[i]);
            }

            return Linear(u, prefix + "fc2.weight", prefix + "fc2.bias");
        });
        y = Add(residual, y);
        if (!pre)
        {
            y = Map(y, v => LayerNorm(v, prefix + "final_layer_norm"));
        }

        return y;
    }

    /// <summary>Causal multi-head attention; HF scales the projected (biased) query by head_dim^-0.5.</summary>
    private double[][] SelfAttention(double[][] x, string prefix)
    {
        int n = x.Length;
        int heads = _spec.NumHeads;
        int d = _spec.HeadDim;
        double scale = 1.0 / Math.Sqrt(d);

        var q = Map(x, v => Linear(v, prefix + "q_proj.weight", prefix + "q_proj.bias"));
        var k = Map(x, v => Linear(v, prefix + "k_proj.weight", prefix + "k_proj.bias"));
        var val = Map(x, v => Linear(v, prefix + "v_proj.weight", prefix + "v_proj.bias"));

        var context = new double[n][];
        for (int t = 0; t < n; t++)
        {
            context[t] = new double[_spec.HiddenSize];
            for (int head = 0; head < heads; head++)
            {
                int o = head * d;
                var scores = new double[t + 1];
                double max = double.NegativeInfinity;
                for (int s = 0; s <= t; s++)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++)
                    {
                        dot += q[t][o + i] * scale * k[s][o + i];
                    }

                    scores[s] = dot;
                    max = Math.Max(max, dot);
                }

                double total = 0;
                for (int s = 0; s <= t; s++)
                {
                    scores[s] = Math.Exp(scores[s] - max);
                    total += scores[s];
                }

                for (int s = 0; s <= t; s++)
                {
                    double p = scores[s] / total;
                    for (int i = 0; i < d; i++)
                    {
                        context[t][o + i] += p * val[s][o + i];
                    }
                }
            }
        }

        return Map(context, v => Linear(v, prefix + "out_proj.weight", prefix + "out_proj.bias"));
    }

    private double[] LayerNorm(double[] x, string name)
    {
        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / x.Length; // biased, as torch.nn.LayerNorm
        double inv = 1.0 / Math.Sqrt(variance + OptSpec.LayerNormEps);
        var y = new double[x.Length];
        var w = _spec.LayerNormAffine ? Weight(name + ".weight").Data : null;
        var b = _spec.LayerNormAffine ? Weight(name + ".bias").Data : null;
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (x[i] - mean) * inv;
            if (w is not null && b is not null)
            {
                y[i] = y[i] * w[i] + b[i];
            }
        }

        return y;
    }

    /// <summary>y = W x (+ b) with W in HF layout [out, in]; the bias is skipped when the model has none.</summary>
    private double[] Linear(double[] x, string weightName, string? biasName)
    {
        var w = Weight(weightName);
        int outDim = w.Shape[0];
        int inDim = w.Shape[1];
        if (x.Length != inDim)
        {
            throw new InvalidOperationException($"{weightName} takes {inDim} inputs, got {x.Length}");
        }

        var bias = biasName is not null && _spec.EnableBias ? Weight(biasName).Data : null;
        var y = new double[outDim];
        for (int r = 0; r < outDim; r++)
        {
            double acc = bias is null ? 0 : bias[r];
            int row = r * inDim;
            for (int c = 0; c < inDim; c++)
            {
                acc += w.Data[row + c] * x[c];
            }

            y[r] = acc;
        }

        return y;
    }

    private Tensor Weight(string name) =>
        _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"missing tensor {name}");

    private static double[] Row(Tensor t, int row)
    {
        int width = t.Shape[1];
        var r = new double[width];
        for (int i = 0; i < width; i++)
        {
            r[i] = t.Data[row * width + i];
        }

        return r;
    }

    private static double[][] Map(double[][] rows, Func<double[], double[]> f) => rows.Select(f).ToArray();

    private static double[][] Add(double[][] a, double[][] b) =>
        a.Select((row, t) => row.Select((v, i) => v + b[t][i]).ToArray()).ToArray();
}
