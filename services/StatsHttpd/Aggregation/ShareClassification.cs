using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Aggregation;

internal enum ShareOutcome : byte
{
    Invalid,
    Accepted,

    /// <summary>Submitted for a job that is gone (btcpool's stale: JOB_NOT_FOUND, code 21).</summary>
    Stale,

    Rejected,
}

/// <summary>
/// How a <see cref="ShareStatus"/> counts, and the reject reasons btcpool's reject_detail lists. Reasons are keyed by
/// btcpool's numeric status code ("23") in the btcpool-compatible API and MySQL, by name in the REST API.
/// </summary>
internal static class RejectReasons
{
    /// <summary>Reject reasons by index; the last index collects status codes this build does not know.</summary>
    private static readonly ShareStatus[] Known =
    [
        ShareStatus.Duplicate,
        ShareStatus.LowDifficulty,
        ShareStatus.Unauthorized,
        ShareStatus.NotSubscribed,
        ShareStatus.IllegalParams,
        ShareStatus.TimeTooOld,
        ShareStatus.TimeTooNew,
        ShareStatus.IllegalVersionMask,
    ];

    private static readonly string[] Codes = [.. Known.Select(s => ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture)), "other"];

    private static readonly string[] Names = [.. Known.Select(ProtoName), "OTHER"];

    public const int OtherIndex = 8;

    public static int Count => Codes.Length;

    /// <summary>btcpool's key for reason <paramref name="index"/>: the status code as text ("23"), "other" for unknown codes.</summary>
    public static string Code(int index) => Codes[index];

    /// <summary>The reason's name as in topics/share.proto ("LOW_DIFFICULTY").</summary>
    public static string Name(int index) => Names[index];

    public static ShareOutcome Classify(ShareStatus status, out int reasonIndex)
    {
        reasonIndex = -1;
        switch (status)
        {
            case ShareStatus.Accepted:
            case ShareStatus.Solved:
                return ShareOutcome.Accepted;
            case ShareStatus.JobNotFound:
                return ShareOutcome.Stale;
            case ShareStatus.Unspecified:
                return ShareOutcome.Invalid;
            default:
                reasonIndex = Array.IndexOf(Known, status);
                if (reasonIndex < 0)
                    reasonIndex = OtherIndex;
                return ShareOutcome.Rejected;
        }
    }

    private static string ProtoName(ShareStatus status)
    {
        // The generated enum carries the proto name in [OriginalName]; reading it keeps one source of truth.
        var field = typeof(ShareStatus).GetField(status.ToString())!;
        var original = field.GetCustomAttributes(typeof(Google.Protobuf.Reflection.OriginalNameAttribute), false)
            .OfType<Google.Protobuf.Reflection.OriginalNameAttribute>().FirstOrDefault();
        return original?.Name ?? status.ToString();
    }
}
