using BenchmarkDotNet.Attributes;
using PoolCluster.Bitcoin;

namespace PoolCluster.Benchmarks.Bitcoin;

/// <summary>The cost of one SHA-256 block compression, the unit of the share-check cost model.</summary>
[MemoryDiagnoser]
public unsafe class Sha256Benchmarks
{
    private readonly byte[] _block = new byte[64];
    private readonly uint[] _state = new uint[8];
    private readonly byte[] _header = new byte[80];

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_block);
        new Random(2).NextBytes(_header);
    }

    /// <summary>One compression through the active engine (libcrypto SHA256_Transform when available).</summary>
    [Benchmark(Baseline = true)]
    public uint Compression()
    {
        fixed (uint* state = _state)
        fixed (byte* block = _block)
        {
            Sha256Engine.Compress(state, block);
            return state[0];
        }
    }

    /// <summary>One compression by the managed fallback.</summary>
    [Benchmark]
    public uint ManagedCompression()
    {
        fixed (uint* state = _state)
        fixed (byte* block = _block)
        {
            Sha256Engine.CompressManaged(state, block);
            return state[0];
        }
    }

    /// <summary>Double SHA-256 of an 80-byte header: 3 compressions plus padding.</summary>
    [Benchmark]
    public Hash256 HeaderDoubleSha256() => Hashes.DoubleSha256(_header);
}
