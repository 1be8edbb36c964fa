namespace PoolCluster.Stratum;

/// <summary>
/// The error codes a stratum server sends in <c>"error":[code,"message",null]</c>, numbered as btcpool numbers them
/// (btcpool's StratumStatus; cgminer/bfgminer only display them). Codes 34-37 are btcpool's later additions.
/// </summary>
public enum StratumErrorCode
{
    /// <summary>btcpool's REJECT_NO_REASON.</summary>
    ShareRejected = 0,
    Unknown = 20,
    /// <summary>btcpool's JOB_NOT_FOUND_OR_STALE: the job id is unknown or no longer current.</summary>
    JobNotFound = 21,
    DuplicateShare = 22,
    LowDifficulty = 23,
    UnauthorizedWorker = 24,
    NotSubscribed = 25,
    IllegalMethod = 26,
    IllegalParams = 27,
    IpBanned = 28,
    InvalidUsername = 29,
    InternalError = 30,
    TimeTooOld = 31,
    TimeTooNew = 32,
    IllegalVersionMask = 33,
    InvalidSolution = 34,
    WrongNoncePrefix = 35,
    /// <summary>btcpool's JOB_NOT_FOUND (36): the job id was never issued to this session.</summary>
    JobNotIssued = 36,
    StaleShare = 37,
}

/// <summary>btcpool's message text for each code (StratumStatus::toString), which miners show to their owners.</summary>
public static class StratumErrors
{
    public static string MessageOf(StratumErrorCode code) => code switch
    {
        StratumErrorCode.ShareRejected => "Share rejected",
        StratumErrorCode.JobNotFound => "Job not found (=stale)",
        StratumErrorCode.DuplicateShare => "Duplicate share",
        StratumErrorCode.LowDifficulty => "Low difficulty",
        StratumErrorCode.UnauthorizedWorker => "Unauthorized worker",
        StratumErrorCode.NotSubscribed => "Not subscribed",
        StratumErrorCode.IllegalMethod => "Illegal method",
        StratumErrorCode.IllegalParams => "Illegal params",
        StratumErrorCode.IpBanned => "Ip banned",
        StratumErrorCode.InvalidUsername => "Invalid username",
        StratumErrorCode.InternalError => "Internal error",
        StratumErrorCode.TimeTooOld => "Time too old",
        StratumErrorCode.TimeTooNew => "Time too new",
        StratumErrorCode.IllegalVersionMask => "Invalid version mask",
        StratumErrorCode.InvalidSolution => "Invalid Solution",
        StratumErrorCode.WrongNoncePrefix => "Wrong Nonce Prefix",
        StratumErrorCode.JobNotIssued => "Job not found (=stale)",
        StratumErrorCode.StaleShare => "Stale share",
        _ => "Unknown",
    };

    /// <summary>The same text as UTF-8 JSON-safe bytes, so the hot reject path writes without transcoding.</summary>
    internal static ReadOnlySpan<byte> Utf8MessageOf(StratumErrorCode code) => code switch
    {
        StratumErrorCode.ShareRejected => "Share rejected"u8,
        StratumErrorCode.JobNotFound => "Job not found (=stale)"u8,
        StratumErrorCode.DuplicateShare => "Duplicate share"u8,
        StratumErrorCode.LowDifficulty => "Low difficulty"u8,
        StratumErrorCode.UnauthorizedWorker => "Unauthorized worker"u8,
        StratumErrorCode.NotSubscribed => "Not subscribed"u8,
        StratumErrorCode.IllegalMethod => "Illegal method"u8,
        StratumErrorCode.IllegalParams => "Illegal params"u8,
        StratumErrorCode.IpBanned => "Ip banned"u8,
        StratumErrorCode.InvalidUsername => "Invalid username"u8,
        StratumErrorCode.InternalError => "Internal error"u8,
        StratumErrorCode.TimeTooOld => "Time too old"u8,
        StratumErrorCode.TimeTooNew => "Time too new"u8,
        StratumErrorCode.IllegalVersionMask => "Invalid version mask"u8,
        StratumErrorCode.InvalidSolution => "Invalid Solution"u8,
        StratumErrorCode.WrongNoncePrefix => "Wrong Nonce Prefix"u8,
        StratumErrorCode.JobNotIssued => "Job not found (=stale)"u8,
        StratumErrorCode.StaleShare => "Stale share"u8,
        _ => "Unknown"u8,
    };
}

/// <summary>Why a request could not be used: the code to answer with and a message naming the exact problem.</summary>
public readonly struct StratumParseError
{
    public StratumParseError(StratumErrorCode code, string message)
    {
        Code = code;
        Message = message;
    }

    public static StratumParseError None => default;

    public StratumErrorCode Code { get; }

    /// <summary>Null when there is no error.</summary>
    public string? Message { get; }

    public bool IsError => Message != null;

    public override string ToString() => IsError ? $"{(int)Code} {Message}" : "no error";
}
