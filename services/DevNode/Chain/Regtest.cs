using System.Numerics;
using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Chain;

/// <summary>Bitcoin Core's regtest consensus parameters (src/kernel/chainparams.cpp, CRegTestParams) that DevNode enforces.</summary>
public static class Regtest
{
    /// <summary>The real regtest genesis block (hash 0f9188f1...2206): Satoshi's mainnet coinbase, time 1296688602, nonce 2.</summary>
    public const string GenesisBlockHex =
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc388" +
        "8a51323a9fb8aa4b1e5e4adae5494dffff7f20020000000101000000010000000000000000000000000000000000000000000000000000000000" +
        "000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b20" +
        "6f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7" +
        "105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

    public const string GenesisHashHex = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

    /// <summary>powLimit in compact form; regtest never retargets, so every block carries these bits.</summary>
    public const uint PowLimitBits = 0x207fffff;

    /// <summary>Version of the blocks this node assembles: BIP9 top bits, no deployment signalling.</summary>
    public const uint BlockVersion = 0x20000000;

    public const int MaxBlockWeight = 4_000_000;
    public const int MaxBlockSerializedSize = 4_000_000;
    public const int MaxBlockSigOpsCost = 80_000;
    public const int WitnessScaleFactor = 4;
    public const long MaxMoney = 21_000_000 * Subsidy.Coin;

    /// <summary>MAX_FUTURE_BLOCK_TIME: a block may be at most two hours ahead of the node's clock.</summary>
    public const long MaxFutureBlockTime = 2 * 60 * 60;

    /// <summary>Difficulty adjustment interval (regtest keeps mainnet's 2016; it matters only for getblocktemplate's mintime).</summary>
    public const int DifficultyAdjustmentInterval = 2016;

    /// <summary>MAX_TIMEWARP (BIP94): mintime at a retarget height is at least the previous block's time minus this.</summary>
    public const long MaxTimewarp = 600;

    /// <summary>Weight and sigops cost BlockAssembler keeps free for the coinbase.</summary>
    public const int CoinbaseReservedWeight = 4000, CoinbaseReservedSigOpsCost = 400;

    /// <summary>BIP34/65/66 are active from height 1 on regtest, so blocks from height 1 need version 4 or higher.</summary>
    public const int Bip34Height = 1, Bip65Height = 1, Bip66Height = 1;

    public static Block Genesis { get; } = CreateGenesis();

    public static Network Network => PoolCluster.Bitcoin.Network.Regtest;

    /// <summary>GetBlockProof: the expected number of hashes for a block at these bits, 2^256 / (target + 1).</summary>
    public static BigInteger BlockProof(uint bits)
    {
        var target = Target.FromCompact(bits).ToBigInteger();
        return target.IsZero ? BigInteger.Zero : (BigInteger.One << 256) / (target + 1);
    }

    private static Block CreateGenesis()
    {
        var genesis = Block.ParseHex(GenesisBlockHex);
        if (genesis.GetHash().ToDisplayHex() != GenesisHashHex)
            throw new InvalidOperationException($"regtest genesis hashes to {genesis.GetHash()}, expected {GenesisHashHex}");
        return genesis;
    }
}
