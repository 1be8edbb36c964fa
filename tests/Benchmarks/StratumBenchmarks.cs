using System.Buffers;
using BenchmarkDotNet.Attributes;
using PoolCluster.Stratum;

namespace PoolCluster.Benchmarks;

/// <summary>The stratum hot path: a submit in, its answer out, and a prepared notify copied to a session.</summary>
[MemoryDiagnoser]
public class StratumBenchmarks
{
    // A real cpuminer 2.5.1 submit line (testdata/stratum), property order and spacing as sent.
    private static readonly byte[] SubmitLine =
        "{\"method\": \"mining.submit\", \"params\": [\"alice.rig1\", \"6a1f\", \"00000000\", \"59a70bb9\", \"1212b080\"], \"id\": 4}"u8.ToArray();

    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private MiningNotify _notify = null!;
    private byte[] _previousBlockHash = null!;
    private byte[] _coinbase1 = null!;
    private byte[] _coinbase2 = null!;
    private ReadOnlyMemory<byte>[] _branch = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Sizes of a mainnet job: a ~100-byte coinbase around the extranonce, a 12-step merkle branch (~4000 txs).
        var random = new Random(1);
        _previousBlockHash = new byte[32];
        random.NextBytes(_previousBlockHash);
        _coinbase1 = new byte[60];
        random.NextBytes(_coinbase1);
        _coinbase2 = new byte[120];
        random.NextBytes(_coinbase2);
        _branch = Enumerable.Range(0, 12).Select(_ =>
        {
            var hash = new byte[32];
            random.NextBytes(hash);
            return (ReadOnlyMemory<byte>)hash;
        }).ToArray();
        _notify = MiningNotify.Create("1f2e3d4c5b6a7988", _previousBlockHash, _coinbase1, _coinbase2, _branch,
            0x20000000, 0x17034219, 0x65a1b2c3, cleanJobs: false);
    }

    [Benchmark]
    public uint ParseSubmit()
    {
        var request = StratumRequest.Parse(SubmitLine);
        return request.Method == StratumMethod.Submit && !request.ParseSubmit(4, out var submit).IsError ? submit.Nonce : 0;
    }

    [Benchmark]
    public int WriteSubmitResult()
    {
        _output.ResetWrittenCount();
        StratumWriter.WriteResult(_output, "4"u8, true);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteSubmitRejection()
    {
        _output.ResetWrittenCount();
        StratumWriter.WriteError(_output, "4"u8, StratumErrorCode.LowDifficulty);
        return _output.WrittenCount;
    }

    /// <summary>Per session per job: copying the prepared notify line.</summary>
    [Benchmark]
    public int WritePreparedNotify()
    {
        _output.ResetWrittenCount();
        _notify.WriteTo(_output);
        return _output.WrittenCount;
    }

    /// <summary>Once per job: serializing the notify from the job's bytes.</summary>
    [Benchmark]
    public int SerializeNotify()
    {
        _output.ResetWrittenCount();
        StratumWriter.WriteNotify(_output, "1f2e3d4c5b6a7988", _previousBlockHash, _coinbase1, _coinbase2, _branch,
            0x20000000, 0x17034219, 0x65a1b2c3, cleanJobs: false);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteSetDifficulty()
    {
        _output.ResetWrittenCount();
        StratumWriter.WriteSetDifficulty(_output, 0.015625);
        return _output.WrittenCount;
    }
}
