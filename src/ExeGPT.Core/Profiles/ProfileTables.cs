using ExeGPT.Core.Models;

namespace ExeGPT.Core.Profiles;

/// <summary>The XProfiler output: per-layer time tables for every covered tensor-parallel degree plus the
/// all-reduce and point-to-point costs, with their provenance. Measured and analytic profiles share this type
/// and its file format (<see cref="ProfileJson"/>). Lookups interpolate and never allocate.</summary>
public sealed class ProfileTables : ILayerProfile
{
    /// <summary>Name of the all-reduce tables.</summary>
    public const string AllReduceName = "all_reduce";

    /// <summary>Names of the send tables.</summary>
    public const string SendIntraNodeName = "send.intra_node", SendInterNodeName = "send.inter_node",
        SendHostStagedName = "send.host_staged";

    private readonly int[] _degrees;
    private readonly TensorParallelTables[] _layers;
    private readonly int[] _allReduceDegrees;
    private readonly ProfileTable1D[] _allReduce;

    /// <summary>Validates that the profile is complete and consistent.</summary>
    /// <param name="metadata">Provenance; the model fingerprint decides whether cross-attention tables are required.</param>
    /// <param name="layers">One entry per TP degree (at least one, distinct degrees).</param>
    /// <param name="allReduce">One "all_reduce" table per TP degree above 1 (tp = 1 costs nothing and is not stored).</param>
    /// <param name="sendIntraNode">"send.intra_node" over bytes.</param>
    /// <param name="sendInterNode">"send.inter_node" over bytes.</param>
    /// <param name="sendHostStaged">"send.host_staged" over bytes.</param>
    /// <param name="roofline">Optional achieved-vs-roofline figures of the layer tables (measured profiles).</param>
    /// <exception cref="SpecException">Naming the missing, duplicated or inconsistent part.</exception>
    public ProfileTables(ProfileMetadata metadata, IEnumerable<TensorParallelTables> layers, IEnumerable<ProfileTable1D> allReduce,
        ProfileTable1D sendIntraNode, ProfileTable1D sendInterNode, ProfileTable1D sendHostStaged, ProfileRoofline? roofline = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(allReduce);
        Metadata = Normalize(metadata);
        bool encoderDecoder = metadata.Model.Architecture == ModelArchitecture.EncoderDecoder;

        _layers = layers.OrderBy(l => l.TensorParallel).ToArray();
        if (_layers.Length == 0)
            throw new SpecException("profile: no tensor-parallel degree has layer tables");
        _degrees = _layers.Select(l => l.TensorParallel).ToArray();
        for (int i = 0; i < _layers.Length; i++)
        {
            if (i > 0 && _degrees[i] == _degrees[i - 1])
                throw new SpecException($"profile: tensor-parallel degree {_degrees[i]} has two sets of layer tables");
            if (encoderDecoder && _layers[i].CrossAttention is null)
                throw new SpecException(
                    $"profile: table {TensorParallelTables.CrossAttentionName} (tp={_degrees[i]}) is missing; encoder-decoder models need it");
            if (!encoderDecoder && _layers[i].CrossAttention is not null)
                throw new SpecException(
                    $"profile: table {TensorParallelTables.CrossAttentionName} (tp={_degrees[i]}) is given for decoder-only model '{metadata.Model.Name}'");
        }

        _allReduce = allReduce.OrderBy(t => t.TensorParallel ?? 0).ToArray();
        _allReduceDegrees = new int[_allReduce.Length];
        for (int i = 0; i < _allReduce.Length; i++)
        {
            ProfileTable1D t = _allReduce[i];
            if (t.Name != AllReduceName || t.TensorParallel is not > 1)
                throw new SpecException(
                    $"profile: all-reduce tables must be named {AllReduceName} with tp > 1 (tp = 1 costs nothing), got {t.Name} (tp={t.TensorParallel?.ToString() ?? "none"})");
            _allReduceDegrees[i] = t.TensorParallel.Value;
            if (i > 0 && _allReduceDegrees[i] == _allReduceDegrees[i - 1])
                throw new SpecException($"profile: tensor-parallel degree {_allReduceDegrees[i]} has two {AllReduceName} tables");
        }
        foreach (int tp in _degrees)
            if (tp > 1 && Array.IndexOf(_allReduceDegrees, tp) < 0)
                throw new SpecException($"profile: table {AllReduceName} (tp={tp}) is missing; every covered degree above 1 needs one");

        SendIntraNode = CheckSend(sendIntraNode, SendIntraNodeName);
        SendInterNode = CheckSend(sendInterNode, SendInterNodeName);
        SendHostStaged = CheckSend(sendHostStaged, SendHostStagedName);
        roofline?.Validate(_layers);
        Roofline = roofline;
        Description = $"{(Metadata.Kind == ProfileKind.Analytic ? "analytic" : "measured")} {Metadata.Device} " +
            $"({Metadata.Model.Name}, {Metadata.Backend})";
    }

    /// <summary>Provenance (creation time normalised to UTC).</summary>
    public ProfileMetadata Metadata { get; }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> TensorParallelDegrees => _degrees;

    /// <summary>Layer tables, ascending by TP degree.</summary>
    public IReadOnlyList<TensorParallelTables> Layers => _layers;

    /// <summary>All-reduce tables, ascending by TP degree (none for tp = 1).</summary>
    public IReadOnlyList<ProfileTable1D> AllReduceTables => _allReduce;

    /// <summary>Device-to-device inside a node, over bytes.</summary>
    public ProfileTable1D SendIntraNode { get; }

    /// <summary>Between nodes, over bytes.</summary>
    public ProfileTable1D SendInterNode { get; }

    /// <summary>Device → pinned host → device, over bytes.</summary>
    public ProfileTable1D SendHostStaged { get; }

    /// <summary>Achieved TFLOP/s, GB/s and fraction of the device's roofline per layer table, or null.</summary>
    public ProfileRoofline? Roofline { get; }

    /// <summary>The send table of <paramref name="link"/>.</summary>
    public ProfileTable1D SendTable(LinkClass link) => link switch
    {
        LinkClass.IntraNode => SendIntraNode,
        LinkClass.InterNode => SendInterNode,
        LinkClass.HostStaged => SendHostStaged,
        _ => throw new ArgumentOutOfRangeException(nameof(link), link, "unknown link class"),
    };

    /// <summary>Throws <see cref="SpecException"/> naming the first per-layer shape field (name, architecture,
    /// hidden, heads, kv_heads, head_dim, ffn_hidden, gated_ffn, dtype_bytes) that differs from
    /// <paramref name="model"/>. Layer counts may differ: the tables are per layer.</summary>
    public void RequireMatches(ModelSpec model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Metadata.Model.FirstDifference(model) is var (field, inProfile, inModel))
            throw new SpecException(
                $"profile '{Description}' does not fit model '{model.Name}': {field} is {inProfile} in the profile but {inModel} in the model");
    }

    /// <inheritdoc/>
    public double PrefillAttention(int tp, double batch, double seqLen) =>
        Layer(tp, TensorParallelTables.EncoderAttentionName).EncoderAttention.Evaluate(batch, seqLen);

    /// <inheritdoc/>
    public double PrefillRest(int tp, double tokens) =>
        Layer(tp, TensorParallelTables.EncoderRestName).EncoderRest.Evaluate(tokens);

    /// <inheritdoc/>
    public double DecodeAttention(int tp, double batch, double context) =>
        Layer(tp, TensorParallelTables.DecoderAttentionName).DecoderAttention.Evaluate(batch, context);

    /// <inheritdoc/>
    public double CrossAttention(int tp, double batch, double encoderLength)
    {
        ProfileTable2D table = Layer(tp, TensorParallelTables.CrossAttentionName).CrossAttention
            ?? throw new ProfileRangeException(
                $"profile table {TensorParallelTables.CrossAttentionName}: model '{Metadata.Model.Name}' is decoder-only and has no cross-attention");
        return table.Evaluate(batch, encoderLength);
    }

    /// <inheritdoc/>
    public double DecodeRest(int tp, double tokens) =>
        Layer(tp, TensorParallelTables.DecoderRestName).DecoderRest.Evaluate(tokens);

    /// <inheritdoc/>
    public double Head(int tp, double rows) =>
        Layer(tp, TensorParallelTables.HeadName).Head is { } head ? head.Evaluate(rows) : double.NaN;

    /// <inheritdoc/>
    /// <remarks>tp = 1 and 0 bytes (no message) cost 0 without a lookup.</remarks>
    public double AllReduce(int tp, double bytes)
    {
        if (tp == 1 || bytes == 0)
            return 0;
        int i = Array.IndexOf(_allReduceDegrees, tp);
        if (i < 0)
            throw new ProfileRangeException(
                $"profile table {AllReduceName}: tensor-parallel degree {tp} is not covered (the profile has {string.Join(", ", _allReduceDegrees.Prepend(1))})");
        return _allReduce[i].Evaluate(bytes);
    }

    /// <inheritdoc/>
    /// <remarks>0 bytes (no message) cost 0 without a lookup.</remarks>
    public double Send(LinkClass link, double bytes) => bytes == 0 ? 0 : SendTable(link).Evaluate(bytes);

    private TensorParallelTables Layer(int tp, string table)
    {
        int i = Array.IndexOf(_degrees, tp);
        if (i < 0)
            throw new ProfileRangeException(
                $"profile table {table}: tensor-parallel degree {tp} is not covered (the profile has {string.Join(", ", _degrees)})");
        return _layers[i];
    }

    private static ProfileTable1D CheckSend(ProfileTable1D? table, string name)
    {
        if (table is null)
            throw new SpecException($"profile: table {name} is missing");
        if (table.Name != name || table.TensorParallel is not null)
            throw new SpecException($"profile: the {name} slot holds table {table.Name} (tp={table.TensorParallel?.ToString() ?? "none"})");
        return table;
    }

    private static ProfileMetadata Normalize(ProfileMetadata m)
    {
        ModelFingerprint f = m.Model ?? throw new SpecException("profile: model fingerprint is missing");
        if (string.IsNullOrWhiteSpace(f.Name))
            throw new SpecException("profile: model name is empty");
        if (f.Hidden <= 0 || f.Heads <= 0 || f.KvHeads <= 0 || f.HeadDim <= 0 || f.FfnHidden <= 0)
            throw new SpecException($"profile: model '{f.Name}' needs positive hidden, heads, kv_heads, head_dim and ffn_hidden");
        if (f.DtypeBytes is not (1 or 2 or 4))
            throw new SpecException($"profile: model '{f.Name}' dtype_bytes must be 1, 2 or 4, got {f.DtypeBytes}");
        if (!Enum.IsDefined(m.Kind))
            throw new SpecException($"profile: kind {(int)m.Kind} is neither analytic nor measured");
        if (string.IsNullOrWhiteSpace(m.Device))
            throw new SpecException("profile: device name is empty");
        if (string.IsNullOrWhiteSpace(m.Backend))
            throw new SpecException("profile: backend is empty");
        DateTime created = m.CreatedUtc.Kind switch
        {
            DateTimeKind.Local => m.CreatedUtc.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(m.CreatedUtc, DateTimeKind.Utc),
            _ => m.CreatedUtc,
        };
        return m with
        {
            CreatedUtc = created, EngineVersion = m.EngineVersion ?? "", Notes = m.Notes ?? "",
            KernelLibrary = string.IsNullOrWhiteSpace(m.KernelLibrary) ? null : m.KernelLibrary,
        };
    }
}
