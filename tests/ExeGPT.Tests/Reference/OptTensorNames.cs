namespace ExeGPT.Tests.Reference;

/// <summary>The tensors of a Hugging Face OPTForCausalLM checkpoint and their shapes, in file order.</summary>
public static class OptTensorNames
{
    public static IEnumerable<(string Name, int[] Shape)> Expected(OptSpec s)
    {
        const string d = "model.decoder.";
        yield return (d + "embed_tokens.weight", [s.VocabSize, s.ProjDim]);
        yield return (d + "embed_positions.weight", [s.MaxPositions + OptSpec.PositionOffset, s.HiddenSize]);
        if (s.HasProjections)
        {
            yield return (d + "project_in.weight", [s.HiddenSize, s.ProjDim]);
            yield return (d + "project_out.weight", [s.ProjDim, s.HiddenSize]);
        }

        for (int i = 0; i < s.NumLayers; i++)
        {
            string l = $"{d}layers.{i}.";
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                yield return ($"{l}self_attn.{proj}.weight", [s.HiddenSize, s.HiddenSize]);
                if (s.EnableBias)
                {
                    yield return ($"{l}self_attn.{proj}.bias", [s.HiddenSize]);
                }
            }

            foreach (var item in LayerNorm(s, l + "self_attn_layer_norm"))
            {
                yield return item;
            }

            yield return (l + "fc1.weight", [s.FfnDim, s.HiddenSize]);
            if (s.EnableBias)
            {
                yield return (l + "fc1.bias", [s.FfnDim]);
            }

            yield return (l + "fc2.weight", [s.HiddenSize, s.FfnDim]);
            if (s.EnableBias)
            {
                yield return (l + "fc2.bias", [s.HiddenSize]);
            }

            foreach (var item in LayerNorm(s, l + "final_layer_norm"))
            {
                yield return item;
            }
        }

        if (s.HasFinalLayerNorm)
        {
            foreach (var item in LayerNorm(s, d + "final_layer_norm"))
            {
                yield return item;
            }
        }

        if (!s.TieWordEmbeddings)
        {
            yield return ("lm_head.weight", [s.VocabSize, s.ProjDim]);
        }
    }

    private static IEnumerable<(string, int[])> LayerNorm(OptSpec s, string name)
    {
        if (s.LayerNormAffine)
        {
            yield return (name + ".weight", [s.HiddenSize]);
            yield return (name + ".bias", [s.HiddenSize]);
        }
    }
}
