using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PoolCluster.Bitcoin;

namespace PoolCluster.Simulator;

/// <summary>One slice of nonce grinding: a job, an extranonce2, a nonce range; the results come back in the same object.</summary>
internal sealed class GrindSlice
{
    public GrindSlice(MiningJob job, byte[] extranonce2, uint startNonce, uint count, bool stopAtFirst)
    {
        Job = job;
        Extranonce2 = extranonce2;
        StartNonce = startNonce;
        Count = count;
        StopAtFirst = stopAtFirst;
    }

    public MiningJob Job { get; }
    public byte[] Extranonce2 { get; }
    public uint StartNonce { get; }

    /// <summary>Nonces to try (StartNonce + Count never passes 2^32).</summary>
    public uint Count { get; }

    public bool StopAtFirst { get; }

    /// <summary>Set by the miner to make the slice end early (the job was replaced).</summary>
    public volatile bool Abandon;

    /// <summary>Nonces whose header meets the share target, confirmed with <see cref="ShareChecker.Check"/>.</summary>
    public List<uint> Found { get; } = [];

    public uint HashesDone { get; set; }

    /// <summary>Set when the fast path found a hash the real share check rejected (a bug: never submitted).</summary>
    public int Mismatches { get; set; }

    internal readonly TaskCompletionSource Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A bounded pool of hashing threads (one per core by default) shared by every miner: each miner has at most one slice
/// queued, slices are served first come first served, so thousands of miners share the CPU fairly without a thread each.
/// <para>
/// Grinding hashes only what changes with the nonce: the header's first 64 bytes are compressed once per
/// (job, extranonce2) into a midstate; each nonce then costs 2 SHA-256 compressions (the header's second block and the
/// outer hash), through the same libcrypto <c>SHA256_Transform</c> shared/Bitcoin uses (when its self-test enabled it).
/// A hash below the target is then confirmed by the real share check (<see cref="ShareChecker.Check"/>: coinbase,
/// merkle branch, header) before it is reported. Without native SHA-256 every nonce goes through ShareChecker.Check.
/// </para>
/// </summary>
internal sealed unsafe class HashingPool : IDisposable
{
    /// <summary>~5-10 ms of work per slice on one core: short enough to share fairly and to drop a replaced job quickly.</summary>
    public const uint DefaultSliceNonces = 1 << 16;

    private readonly BlockingCollection<GrindSlice> _queue = new(new ConcurrentQueue<GrindSlice>());
    private readonly Thread[] _threads;
    private readonly bool _fastPath;
    private long _hashes;
    private long _mismatches;

    public HashingPool(int threads, bool allowFastPath = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _fastPath = allowFastPath && Sha256Engine.IsNative;
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"simulator-hash-{i}" };
            _threads[i].Start();
        }
    }

    public int Threads => _threads.Length;

    /// <summary>True when nonces are ground with the header midstate; false when each goes through ShareChecker.Check.</summary>
    public bool UsesFastPath => _fastPath;

    public string Engine => _fastPath
        ? "header midstate + libcrypto SHA256_Transform, shares confirmed by ShareChecker.Check"
        : $"ShareChecker.Check per nonce ({Sha256Engine.Description})";

    public long HashesDone => Interlocked.Read(ref _hashes);

    /// <summary>Found hashes the real share check did not confirm (must stay 0).</summary>
    public long Mismatches => Interlocked.Read(ref _mismatches);

    /// <summary>Measured hashes per second with all threads busy (set by <see cref="Calibrate"/>).</summary>
    public double CapacityHashesPerSecond { get; private set; }

    public Task GrindAsync(GrindSlice slice)
    {
        _queue.Add(slice);
        return slice.Completion.Task;
    }

    /// <summary>Times one thread grinding an impossible target for about <paramref name="duration"/>; capacity = that × threads.</summary>
    public double Calibrate(TimeSpan duration)
    {
        var job = CalibrationJob();
        var extranonce2 = new byte[job.Extranonce2Size];
        var stopwatch = Stopwatch.StartNew();
        long hashes = 0;
        uint start = 0;
        while (stopwatch.Elapsed < duration)
        {
            var slice = new GrindSlice(job, extranonce2, start, 1 << 14, stopAtFirst: true);
            Grind(slice);
            hashes += slice.HashesDone;
            start += 1 << 14;
        }
        var perThread = hashes / stopwatch.Elapsed.TotalSeconds;
        CapacityHashesPerSecond = perThread * _threads.Length;
        return CapacityHashesPerSecond;
    }

    private static MiningJob CalibrationJob()
    {
        // Any well-formed job will do; the target is unreachable so every nonce is hashed.
        var checker = new ShareChecker(new byte[42], new byte[60], 8, new Hash256[8], 0x20000000, default, 0x1d00ffff);
        var shared = new SharedJob("calibration", "calibration"u8.ToArray(), [8], checker, 0x5f000000, null);
        return new MiningJob(shared, new ShareTarget(1e15), new byte[4], 4, clean: true, 0);
    }

    private void Work()
    {
        foreach (var slice in _queue.GetConsumingEnumerable())
        {
            try
            {
                Grind(slice);
            }
            catch (Exception e)
            {
                slice.Completion.TrySetException(e);
                continue;
            }
            Interlocked.Add(ref _hashes, slice.HashesDone);
            if (slice.Mismatches > 0)
                Interlocked.Add(ref _mismatches, slice.Mismatches);
            slice.Completion.TrySetResult();
        }
    }

    internal void Grind(GrindSlice slice)
    {
        if (_fastPath)
            GrindWithMidstate(slice);
        else
            GrindWithShareChecker(slice);
    }

    private static void GrindWithShareChecker(GrindSlice slice)
    {
        var job = slice.Job;
        var checker = job.Shared.Checker;
        var target = job.ShareTarget.Target;
        uint done = 0;
        for (var i = 0u; i < slice.Count; i++)
        {
            if ((i & 1023) == 0 && slice.Abandon)
                break;
            var nonce = slice.StartNonce + i;
            done++;
            if (checker.Check(job.Extranonce1, slice.Extranonce2, job.Shared.NTime, nonce, target).IsValid)
            {
                slice.Found.Add(nonce);
                if (slice.StopAtFirst)
                    break;
            }
        }
        slice.HashesDone = done;
    }

    [SkipLocalsInit]
    private static void GrindWithMidstate(GrindSlice slice)
    {
        var job = slice.Job;
        var checker = job.Shared.Checker;
        var target = job.ShareTarget.Target;
        var topWord = job.ShareTarget.TopWord;
        var headerStruct = checker.BuildHeader(job.Extranonce1, slice.Extranonce2, job.Shared.NTime, 0);

        var midstate = stackalloc uint[8];
        var state = stackalloc uint[8];
        var header = stackalloc byte[128];
        var outer = stackalloc byte[64];
        Span<byte> digest = stackalloc byte[32];
        var headerSpan = new Span<byte>(header, 128);
        headerSpan.Clear();
        headerStruct.WriteTo(headerSpan);
        header[80] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(headerSpan[120..], 80 * 8);
        new Span<byte>(outer + 32, 32).Clear();
        outer[32] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(outer + 56, 8), 32 * 8);

        InitializeState(midstate);
        Transform(midstate, header);

        uint done = 0;
        var block = header + 64;
        for (var i = 0u; i < slice.Count; i++)
        {
            if ((i & 4095) == 0 && slice.Abandon)
                break;
            var nonce = slice.StartNonce + i;
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(block + 12, 4), nonce);
            Unsafe.CopyBlockUnaligned(state, midstate, 32);
            Transform(state, block);
            for (var w = 0; w < 8; w++)
                BinaryPrimitives.WriteUInt32BigEndian(new Span<byte>(outer + 4 * w, 4), state[w]);
            InitializeState(state);
            Transform(state, outer);
            done++;
            // The hash read as a little-endian number: its top 32 bits are the last digest word, byte-swapped.
            if (BinaryPrimitives.ReverseEndianness(state[7]) > topWord)
                continue;
            for (var w = 0; w < 8; w++)
                BinaryPrimitives.WriteUInt32BigEndian(digest[(4 * w)..], state[w]);
            if (!Hash256.FromInternalBytes(digest).MeetsTarget(target))
                continue;
            if (!checker.Check(job.Extranonce1, slice.Extranonce2, job.Shared.NTime, nonce, target).IsValid)
            {
                slice.Mismatches++;
                continue;
            }
            slice.Found.Add(nonce);
            if (slice.StopAtFirst)
                break;
        }
        slice.HashesDone = done;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InitializeState(uint* state)
    {
        state[0] = 0x6a09e667; state[1] = 0xbb67ae85; state[2] = 0x3c6ef372; state[3] = 0xa54ff53a;
        state[4] = 0x510e527f; state[5] = 0x9b05688c; state[6] = 0x1f83d9ab; state[7] = 0x5be0cd19;
    }

    // The same export shared/Bitcoin's Sha256Engine uses (only called when its self-test found it sound: _fastPath).
    // A DllImport rather than a function pointer for the reason given there (vzeroupper before legacy-SSE code).
    [DllImport(Sha256Engine.LibCryptoFileName, EntryPoint = "SHA256_Transform", ExactSpelling = true)]
    [SuppressGCTransition]
    private static extern void Transform(uint* state, byte* block);

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads)
            thread.Join(TimeSpan.FromSeconds(5));
        _queue.Dispose();
    }
}
