using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ExeGPT.Core;
using ExeGPT.Core.Models;
using ExeGPT.Core.Profiles;
using ExeGPT.Native;
using ExeGPT.Native.Interop;
using Microsoft.Extensions.Logging;

namespace ExeGPT.Profiler;

/// <summary>Measured profiles kept on disk, one file per measurement setup: <c>&lt;sha256 prefix&gt;.json</c> in the
/// ordinary profile format, so a cached file is also a profile a user can pass to <c>--profile</c>.</summary>
public static partial class ProfileCache
{
    /// <summary>Environment variable naming the cache folder.</summary>
    public const string DirectoryVariable = "EXEGPT_CACHE_DIR";

    // 64 bits of the hash: collisions between setups on one machine are not a concern at that width.
    private const int HashChars = 16;

    /// <summary><c>$EXEGPT_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/exegpt/profiles</c>, else
    /// <c>~/.cache/exegpt/profiles</c> (the XDG base-directory default).</summary>
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } explicitDir)
            return explicitDir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = xdg is { Length: > 0 } && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "exegpt", "profiles");
    }

    /// <summary>Everything the measurement depends on, one item a line: the model's full shape and dtype, backend, device
    /// (host, ranks, threads per rank; a GPU's name and dtype), engine build (API, assembly and the native library file), grid, TP degrees
    /// and kernel library (path, size, modification time). Weight values (the seed) do not change timings.</summary>
    internal static string Key(ProfileRequest request, string device, string backend, string engineVersion, int dtypeBytes)
    {
        exg_model_config c = request.Config;
        ModelSpec spec = XProfiler.ModelSpecOf(c, request.ModelName, dtypeBytes);
        ProfileGrid grid = request.Grid;
        var key = new StringBuilder();
        // The method's version: bump it whenever what a profile measures changes (2: cold caches between steps, the
        // head table, in-situ all-reduces; 3: in-situ all-reduces from prefill steps only), so no cached profile of the old
        // method is reused.
        key.AppendLine("exegpt-profile-cache 3");
        key.AppendLine(CultureInfo.InvariantCulture, $"model {ModelFingerprint.Of(spec)}");
        key.AppendLine(CultureInfo.InvariantCulture,
            $"config vocab={c.vocab_size} hidden={c.hidden_size} layers={c.num_layers} heads={c.num_heads} ffn={c.ffn_dim} " +
            $"positions={c.max_positions} offset={c.position_offset} embed={c.word_embed_proj_dim} act={c.activation} " +
            $"eps={c.layer_norm_eps:R} preln={c.pre_layer_norm} finalln={c.final_layer_norm} affine={c.layer_norm_affine} " +
            $"bias={c.enable_bias} tied={c.tied_lm_head}");
        key.AppendLine($"backend {backend}");
        key.AppendLine($"device {device}; ranks {request.Ranks}; threads per rank {request.ThreadsPerRank}");
        key.AppendLine($"engine {engineVersion}; library {FileStamp(NativeLibraryLoader.LoadedPath)}");
        key.AppendLine(CultureInfo.InvariantCulture,
            $"grid prefill batches {string.Join(",", grid.PrefillRows)}; decode batches {string.Join(",", grid.Batches)}; lengths {string.Join(",", grid.Lengths)}; repeats {grid.Repeats}; warmup {grid.Warmup}");
        key.AppendLine($"tp {string.Join(",", request.Degrees)}");
        key.AppendLine($"kernels {FileStamp(request.KernelLibrary)}");
        return key.ToString();
    }

    internal static string FileName(string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..HashChars] + ".json";

    /// <summary>The cached profile at <paramref name="path"/> (logged), or null when there is none or it does not read
    /// (logged: the caller measures again and overwrites it).</summary>
    internal static ProfileTables? TryRead(string path, ModelSpec model, ILogger? log)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            ProfileTables profile = ProfileJson.Read(path);
            profile.RequireMatches(model);
            if (log is not null) CacheLog.Hit(log, path);
            return profile;
        }
        catch (SpecException e)
        {
            if (log is not null) CacheLog.Corrupt(log, path, e.Message);
            return null;
        }
    }

    /// <summary>Writes through a temporary file and a rename, so a concurrent reader never sees half a profile; a
    /// cache that cannot be written costs only the next measurement (logged).</summary>
    internal static void Write(string path, ProfileTables profile, ILogger? log)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            ProfileJson.Write(profile, temp);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (log is not null) CacheLog.Unwritable(log, path, e.Message);
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // Best effort: a stray temporary file is harmless, the profile itself is returned anyway.
            }
        }
    }

    private static string FileStamp(string? path)
    {
        if (path is null)
            return "none";
        var file = new FileInfo(path);
        return file.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{file.FullName} {file.Length} B {file.LastWriteTimeUtc:O}")
            : $"{Path.GetFullPath(path)} (missing)";
    }

    private static partial class CacheLog
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "using the cached profile {Path}")]
        public static partial void Hit(ILogger logger, string path);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cached profile {Path} does not read and is measured again: {Reason}")]
        public static partial void Corrupt(ILogger logger, string path, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "profile cache {Path} cannot be written: {Reason}")]
        public static partial void Unwritable(ILogger logger, string path, string reason);
    }
}
