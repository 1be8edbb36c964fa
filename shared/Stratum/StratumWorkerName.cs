using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace PoolCluster.Stratum;

/// <summary>
/// A miner's login <c>user.worker</c>, split and normalized the way btcpool does it (StratumWorker::setNames):
/// the user is everything before the first '.', the worker everything after; the worker name keeps only
/// letters, digits and <c>- . _ : | ^ /</c>, is cut at 20 characters, and becomes <c>__default__</c> when empty.
/// One deliberate difference: btcpool also silently drops bad characters from the user name, which can credit a
/// different account ("bob!" would mine for "bob"); here a user name with a bad character is rejected (code 29).
/// </summary>
public sealed record StratumWorkerName(string UserName, string WorkerName, long WorkerId)
{
    public const string DefaultWorkerName = "__default__";
    public const int MaxWorkerNameLength = 20;
    public const int MaxUserNameLength = 64;

    /// <summary><c>user.worker</c> after normalization.</summary>
    public string FullName => UserName + "." + WorkerName;

    /// <summary>Splits and checks a login; on failure <paramref name="error"/> says what is wrong (answer with code 29).</summary>
    public static bool TryParse(string? login, out StratumWorkerName? worker, out string error)
    {
        worker = null;
        var full = (login ?? "").Trim();
        var dot = full.IndexOf('.');
        var user = dot < 0 ? full : full[..dot];
        var rawWorker = dot < 0 ? "" : full[(dot + 1)..];

        if (user.Length == 0)
        {
            error = full.Length == 0 ? "user name is empty" : $"user name is empty in \"{Shorten(full)}\" (expected user.worker)";
            return false;
        }
        if (user.Length > MaxUserNameLength)
        {
            error = $"user name is longer than {MaxUserNameLength} characters";
            return false;
        }
        foreach (var c in user)
        {
            if (!IsNameChar(c) || c == '.')
            {
                error = $"user name \"{Shorten(user)}\" contains '{c}'; allowed are letters, digits and - _ : | ^ /";
                return false;
            }
        }

        var workerName = FilterName(rawWorker);
        if (workerName.Length > MaxWorkerNameLength)
            workerName = workerName[..MaxWorkerNameLength];
        if (workerName.Length == 0)
            workerName = DefaultWorkerName;

        worker = new StratumWorkerName(user, workerName, ComputeWorkerId(workerName));
        error = "";
        return true;
    }

    /// <summary>
    /// btcpool's worker id (StratumWorker::calcWorkerId): the double SHA-256 of the worker name; the first 16 hex digits
    /// of that hash as Bitcoin prints it (bytes reversed), read as a 64-bit number, i.e. the hash's last 8 bytes
    /// little-endian. Zero is reserved, so it becomes 1. The id depends on the worker name only: it is unique within
    /// a user.
    /// </summary>
    public static long ComputeWorkerId(string workerName)
    {
        ArgumentNullException.ThrowIfNull(workerName);
        var byteCount = Encoding.UTF8.GetByteCount(workerName);
        Span<byte> name = byteCount <= 256 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(workerName, name);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(name, hash);
        SHA256.HashData(hash, hash);
        var id = BinaryPrimitives.ReadInt64LittleEndian(hash[24..]);
        return id == 0 ? 1 : id;
    }

    /// <summary>btcpool's filterWorkerName: keeps letters, digits and <c>- . _ : | ^ /</c>, drops everything else.</summary>
    public static string FilterName(ReadOnlySpan<char> name)
    {
        var keep = 0;
        foreach (var c in name)
            if (IsNameChar(c)) keep++;
        if (keep == name.Length)
            return name.ToString();
        return string.Create(keep, name.ToString(), static (span, source) =>
        {
            var i = 0;
            foreach (var c in source)
                if (IsNameChar(c)) span[i++] = c;
        });
    }

    public static bool IsNameChar(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
            or '-' or '.' or '_' or ':' or '|' or '^' or '/';

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
