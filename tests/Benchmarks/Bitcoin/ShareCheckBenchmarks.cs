using System.Buffers.Binary;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using PoolCluster.Bitcoin;

namespace PoolCluster.Benchmarks.Bitcoin;

/// <summary>
/// The stratum share check (docs/bitcoin-performance.md). The job is the real mainnet block 482683 coinbase from
/// testdata/stratum (46-byte coinbase1, 8 extranonce bytes, 99-byte coinbase2) with a 12-level merkle branch
/// (a ~4000-transaction block), checked at share difficulty 0.002: 3 + 1 + 12*3 + 3 = 43 compressions per check.
/// </summary>
[MemoryDiagnoser]
public class ShareCheckBenchmarks
{
    // mining.notify from testdata/stratum/cpuminer-mainnet-block482683.jsonl.
    private const string PreviousBlockHash = "16aaac8772f71245da07a4927ca94785aa0bc28c004f85680000000000000000";
    private const string Coinbase1 = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff15037b5d07";
    private const string Coinbase2 =
        "2f636170747572652fffffffff02d584e94a000000001976a9143abf61fe3281230780ed82676f9fa971e95f7ac188ac0000000000000000266a24aa21a9ed0f8b0182863aa4713e94bb72c47c57dcbae7de8f3df2af23453f60f1965dab7700000000";

    private ShareChecker _checker = null!;
    private byte[] _extranonce1 = null!;
    private byte[] _extranonce2 = null!;
    private byte[] _coinbase1 = null!;
    private byte[] _coinbase2 = null!;
    private byte[][] _branchBytes = null!;
    private byte[] _previousBlockHash = null!;
    private Target _target;
    private uint _nonce;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(12);
        var branch = Enumerable.Range(0, 12).Select(_ =>
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            return Hash256.FromInternalBytes(bytes);
        }).ToArray();
        _checker = ShareChecker.FromNotify(PreviousBlockHash, Coinbase1, Coinbase2,
            branch.Select(h => h.ToInternalHex()), "20000002", "18013ce9", 8);
        if (_checker.CompressionsPerCheck != 43) throw new InvalidOperationException($"expected 43 compressions, job has {_checker.CompressionsPerCheck}");
        _extranonce1 = Hex.Decode("f000000a");
        _extranonce2 = new byte[4];
        _coinbase1 = Hex.Decode(Coinbase1);
        _coinbase2 = Hex.Decode(Coinbase2);
        _branchBytes = branch.Select(h => h.ToInternalBytes()).ToArray();
        _previousBlockHash = StratumEncoding.ParsePreviousBlockHash(PreviousBlockHash).ToInternalBytes();
        _target = Target.FromDifficulty(0.002);
    }

    /// <summary>The library's check: per-job midstate and templates, per-share compressions only.</summary>
    [Benchmark(Baseline = true)]
    public bool ShareCheck12Levels()
    {
        var nonce = ++_nonce;
        BinaryPrimitives.WriteUInt32LittleEndian(_extranonce2, nonce);
        return _checker.Check(_extranonce1, _extranonce2, 0x59a70bb9, nonce, _target).IsValid;
    }

    /// <summary>The same check written the obvious way on SHA256.HashData, for comparison.</summary>
    [Benchmark]
    public bool ShareCheck12LevelsWithFrameworkSha256()
    {
        var nonce = ++_nonce;
        BinaryPrimitives.WriteUInt32LittleEndian(_extranonce2, nonce);
        Span<byte> coinbase = stackalloc byte[_coinbase1.Length + 8 + _coinbase2.Length];
        _coinbase1.CopyTo(coinbase);
        _extranonce1.CopyTo(coinbase[_coinbase1.Length..]);
        _extranonce2.CopyTo(coinbase[(_coinbase1.Length + 4)..]);
        _coinbase2.CopyTo(coinbase[(_coinbase1.Length + 8)..]);
        Span<byte> node = stackalloc byte[64];
        SHA256.HashData(coinbase, node);
        SHA256.HashData(node[..32], node);
        foreach (var sibling in _branchBytes)
        {
            sibling.CopyTo(node[32..]);
            SHA256.HashData(node, node);
            SHA256.HashData(node[..32], node);
        }
        Span<byte> header = stackalloc byte[80];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x20000002);
        _previousBlockHash.CopyTo(header[4..]);
        node[..32].CopyTo(header[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[68..], 0x59a70bb9);
        BinaryPrimitives.WriteUInt32LittleEndian(header[72..], 0x18013ce9);
        BinaryPrimitives.WriteUInt32LittleEndian(header[76..], nonce);
        SHA256.HashData(header, node);
        SHA256.HashData(node[..32], node);
        return Hash256.FromInternalBytes(node[..32]).MeetsTarget(_target);
    }
}
