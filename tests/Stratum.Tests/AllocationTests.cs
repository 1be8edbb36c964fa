using System.Buffers;

namespace PoolCluster.Stratum.Tests;

/// <summary>The hot paths (a submit in, its answer out, a notify to every session) must not allocate.</summary>
public class AllocationTests
{
    private static readonly byte[] SubmitLine =
        "{\"method\": \"mining.submit\", \"params\": [\"alice.rig1\", \"6a1f\", \"00000000\", \"59a70bb9\", \"1212b080\"], \"id\": 4}"u8.ToArray();

    private static long AllocatedBy(Action action)
    {
        action(); // warm up: JIT, statics
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
            action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void ParsingASubmitDoesNotAllocate()
    {
        uint sink = 0;
        var allocated = AllocatedBy(() =>
        {
            var request = StratumRequest.Parse(SubmitLine);
            if (request.Method == StratumMethod.Submit && !request.ParseSubmit(4, out var submit).IsError)
                sink ^= submit.Nonce;
        });
        Assert.Equal(0x1212b080u, sink); // 101 runs: the XORs leave one nonce
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void WritingHotAnswersDoesNotAllocate()
    {
        var output = new ArrayBufferWriter<byte>(4096);
        var notify = MiningNotify.Create("6a1f", new byte[32], new byte[60], new byte[80],
            [new byte[32], new byte[32], new byte[32]], 0x20000000, 0x1d00ffff, 0x5a000000, true);
        var allocated = AllocatedBy(() =>
        {
            output.ResetWrittenCount();
            StratumWriter.WriteResult(output, "4"u8, true);
            StratumWriter.WriteError(output, "4"u8, StratumErrorCode.LowDifficulty);
            StratumWriter.WriteSetDifficulty(output, 0.001);
            StratumWriter.WriteSetDifficulty(output, 9.5367431640625E-07);
            notify.WriteTo(output);
        });
        Assert.Equal(0, allocated);
    }
}
