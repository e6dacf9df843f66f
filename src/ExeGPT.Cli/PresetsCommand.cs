using System.CommandLine;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using static ExeGPT.Native.Interop.NativeMethods;

namespace ExeGPT.Cli;

/// <summary><c>exegpt presets</c>: the named model shapes and their dimensions.</summary>
internal static class PresetsCommand
{
    public static Command Create(Option<bool> verbose)
    {
        var command = new Command("presets", "List the model presets with their shapes.");
        command.SetAction(parse => CommandRunner.Execute(parse, verbose, _ =>
        {
            Console.Out.Write(FormatTable(ModelConfigs.PresetNames.Select(name => (name, ModelConfigs.Preset(name)))));
            return 0;
        }));
        return command;
    }

    internal static string FormatTable(IEnumerable<(string Name, exg_model_config Config)> presets)
    {
        string[] header = ["name", "layers", "hidden", "heads", "ffn", "embed", "vocab", "positions", "activation", "norm"];
        List<string[]> rows = [header];
        foreach ((string name, exg_model_config c) in presets)
        {
            rows.Add([
                name, $"{c.num_layers}", $"{c.hidden_size}", $"{c.num_heads}", $"{c.ffn_dim}",
                $"{c.word_embed_proj_dim}", $"{c.vocab_size}", $"{c.max_positions}",
                ActivationName(c.activation), c.pre_layer_norm != 0 ? "pre-LN" : "post-LN",
            ]);
        }

        int[] widths = new int[header.Length];
        foreach (string[] row in rows)
            for (int i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], row[i].Length);
        var text = new System.Text.StringBuilder();
        foreach (string[] row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                // Names and words left-aligned, numbers right-aligned.
                bool numeric = i is > 0 and < 8, lastColumn = i + 1 == row.Length;
                text.Append(numeric ? row[i].PadLeft(widths[i]) : lastColumn ? row[i] : row[i].PadRight(widths[i]));
                if (!lastColumn)
                    text.Append("  ");
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static string ActivationName(int activation) => (exg_activation)activation switch
    {
        exg_activation.EXG_ACT_RELU => "relu",
        exg_activation.EXG_ACT_GELU => "gelu",
        exg_activation.EXG_ACT_GELU_TANH => "gelu_tanh",
        exg_activation.EXG_ACT_SILU => "silu",
        _ => $"#{activation}",
    };
}
