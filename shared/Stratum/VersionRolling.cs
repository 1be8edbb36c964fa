namespace PoolCluster.Stratum;

/// <summary>BIP310 version rolling: which header version bits a miner may change, and how a submit's bits apply.</summary>
public static class VersionRolling
{
    /// <summary>BIP320's general-purpose bits 13-28, btcpool's recommended pool mask.</summary>
    public const uint Bip320Mask = 0x1fffe000;

    /// <summary>BIP310's default when the miner sends no mask: it can roll any bit.</summary>
    public const uint DefaultMinerMask = 0xffffffff;

    /// <summary>The mask granted: the bits both sides allow (<c>pool &amp; miner</c>).</summary>
    public static uint Negotiate(uint poolMask, uint? minerMask) => poolMask & (minerMask ?? DefaultMinerMask);

    /// <summary>
    /// BIP310: the miner needs at least this many bits to work at full speed. Fewer is not a reason to refuse
    /// (the miner runs degraded), but worth a log line.
    /// </summary>
    public static bool MeetsMinBitCount(uint grantedMask, int minBitCount) => System.Numerics.BitOperations.PopCount(grantedMask) >= minBitCount;

    /// <summary>A submit's version bits are legal when they touch no bit outside the mask; otherwise answer code 33.</summary>
    public static bool IsAllowed(uint versionBits, uint mask) => (versionBits & ~mask) == 0;

    /// <summary>The header version for a submit: <c>(job &amp; ~mask) | (bits &amp; mask)</c>.</summary>
    public static uint Apply(uint jobVersion, uint versionBits, uint mask) => (jobVersion & ~mask) | (versionBits & mask);
}
