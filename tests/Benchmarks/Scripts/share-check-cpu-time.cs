#:project ../../../shared/Bitcoin/PoolCluster.Bitcoin.csproj
#:property AllowUnsafeBlocks=true
#:property PublishAot=false

// Single-core share-check throughput measured in THREAD CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), so the figure
// holds on a machine shared with other work, where BenchmarkDotNet's wall-clock means include time the thread was not
// running. Same job as ShareCheckBenchmarks: block 482683's real coinbase (46 + 8 + 99 bytes) and a 12-level branch.
//   dotnet run -c Release tests/Benchmarks/Scripts/share-check-cpu-time.cs
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using PoolCluster.Bitcoin;

var random = new Random(12);
var branch = Enumerable.Range(0, 12).Select(_ =>
{
    var bytes = new byte[32];
    random.NextBytes(bytes);
    return Hash256.FromInternalBytes(bytes).ToInternalHex();
}).ToArray();
var checker = ShareChecker.FromNotify("16aaac8772f71245da07a4927ca94785aa0bc28c004f85680000000000000000",
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff15037b5d07",
    "2f636170747572652fffffffff02d584e94a000000001976a9143abf61fe3281230780ed82676f9fa971e95f7ac188ac0000000000000000266a24aa21a9ed0f8b0182863aa4713e94bb72c47c57dcbae7de8f3df2af23453f60f1965dab7700000000",
    branch, "20000002", "18013ce9", 8);
var extranonce1 = new byte[] { 0xf0, 0x00, 0x00, 0x0a };
var extranonce2 = new byte[4];
var target = Target.FromDifficulty(0.002);
Console.WriteLine($"engine: {Sha256Engine.Description}; {checker.CompressionsPerCheck} compressions per check");

const int Checks = 500_000;
var best = double.MaxValue;
for (var round = 0; round < 5; round++)
{
    var before = ThreadCpu.Seconds();
    var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
    for (uint i = 0; i < Checks; i++)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(extranonce2, i);
        checker.Check(extranonce1, extranonce2, 0x59a70bb9, i, target);
    }
    var seconds = ThreadCpu.Seconds() - before;
    var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
    best = Math.Min(best, seconds);
    Console.WriteLine($"round {round}: {seconds / Checks * 1e9:F0} ns CPU per check, {Checks / seconds:N0} checks/s, {allocated} bytes allocated");
}
Console.WriteLine($"best: {best / Checks * 1e9:F0} ns per check = {Checks / best:N0} checks/s on one core; " +
    $"{best / Checks * 1e9 / checker.CompressionsPerCheck:F1} ns per compression");

// The floor: the same number of bare SHA256_Transform calls, exactly as the library makes them (DllImport, no GC
// transition), on one 64-byte block.
const int Blocks = 2_000_000;
var bestBlock = double.MaxValue;
unsafe
{
    var state = stackalloc uint[8];
    var block = stackalloc byte[64];
    for (var round = 0; round < 5; round++)
    {
        var before = ThreadCpu.Seconds();
        for (var i = 0; i < Blocks; i++)
        {
            block[0] = (byte)i;
            LibCrypto.Sha256Transform(state, block);
        }
        bestBlock = Math.Min(bestBlock, ThreadCpu.Seconds() - before);
    }
}
var floor = bestBlock / Blocks * checker.CompressionsPerCheck;
Console.WriteLine($"bare compression: {bestBlock / Blocks * 1e9:F1} ns; {checker.CompressionsPerCheck} of them = {floor * 1e9:F0} ns = {1 / floor:N0}/s; " +
    $"the check costs {best / Checks / floor:F2}x its compressions");

static unsafe class LibCrypto
{
    [DllImport("libcrypto.so.3", EntryPoint = "SHA256_Transform", ExactSpelling = true)]
    [System.Runtime.InteropServices.SuppressGCTransition]
    public static extern void Sha256Transform(uint* state, byte* block);
}

static class ThreadCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    public static double Seconds()
    {
        if (ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var time) != 0) throw new InvalidOperationException("clock_gettime failed");
        return time.Seconds + time.Nanoseconds / 1e9;
    }
}
