using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PoolCluster.StatsHttpd.Aggregation;

/// <summary>A bucket that can say what it adds to a window's totals.</summary>
internal interface IWindowBucket
{
    WindowTotals Totals { get; }
}

/// <summary>One second of one entity's shares: what the 1-minute window needs.</summary>
internal struct SecondBucket : IWindowBucket
{
    public double Accept;
    public double Stale;
    public double Reject;
    public int AcceptCount;

    /// <summary>Second buckets keep no stale/reject counts (the 1-minute window reports difficulty only).</summary>
    public readonly WindowTotals Totals => new(Accept, Stale, Reject, AcceptCount, 0, 0);
}

/// <summary>One minute of one entity's shares: the 5 min / 15 min / 1 h windows and the Redis per-minute hashes.</summary>
internal struct MinuteBucket : IWindowBucket
{
    public readonly WindowTotals Totals => new(Accept, Stale, Reject, AcceptCount, StaleCount, RejectCount);

    public double Accept;
    public double Stale;
    public double Reject;

    /// <summary>Sum of share difficulty / network difficulty over accepted shares (viabtc's "pow goal").</summary>
    public double Goal;

    public int AcceptCount;
    public int StaleCount;
    public int RejectCount;

    /// <summary>Accepted shares that solved a block.</summary>
    public int Blocks;
}

/// <summary>One hour or one day of one entity's shares: the 1-day window and btcpool's stats_*_hour/day rows.</summary>
internal struct PeriodBucket : IWindowBucket
{
    public readonly WindowTotals Totals => new(Accept, Stale, Reject, AcceptCount, StaleCount, RejectCount);

    public double Accept;
    public double Stale;
    public double Reject;

    /// <summary>Sum of min(1, share difficulty / network difficulty) over accepted shares.</summary>
    public double Score;

    /// <summary>Satoshis the accepted shares earn at PPS for the block subsidy: score × subsidy.</summary>
    public double Earn;

    public long AcceptCount;
    public long StaleCount;
    public long RejectCount;
    public long Blocks;
}

/// <summary>
/// A ring of buckets addressed by an absolute bucket index (unix second, minute, hour or day): slot = index mod
/// capacity, and each slot remembers which index it holds, so reading index i sees data only when the slot still holds
/// i. Writing an index newer than the slot's recycles the slot; writing an older one is refused (that share fell out
/// of the ring), which keeps every slot's total complete: a slot never holds part of a bucket whose earlier shares were
/// dropped. Each bucket carries a dirty flag for the sink that persists it.
/// <para>
/// The newest bucket (the head) lives inline, in the object that holds this struct: shares mostly arrive in time
/// order, so most of them touch only the owner's own memory, and the ring's array is written once per bucket when the
/// head moves on. That is what makes a share cost a few cache misses instead of a dozen (docs/statshttpd.md).
/// </para>
/// A mutable struct: keep it in a (non-readonly) field and never copy it. Not thread-safe: the owner locks.
/// </summary>
internal struct BucketRing<T> where T : struct
{
    public const long Empty = long.MinValue;

    /// <summary>Where a refused share's values go (never read; every thread may scribble on it).</summary>
    private static T discard;

    private readonly Slot[] slots;
    private readonly int mask;
    private long headIndex;
    private bool headDirty;
    private T head;

    public BucketRing(int capacity)
    {
        if (capacity < 2 || !BitOperations.IsPow2(capacity))
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the capacity must be a power of two of at least 2");
        slots = new Slot[capacity];
        foreach (ref var slot in slots.AsSpan())
            slot.Index = Empty;
        mask = capacity - 1;
        headIndex = Empty;
    }

    /// <summary>Buckets it holds at most: the ring's slots (the head moves into one of them when it is replaced).</summary>
    public readonly int Capacity => slots.Length;

    /// <summary>
    /// The bucket for <paramref name="index"/>, created (zeroed) when the ring held an older bucket in its place, and
    /// marked dirty when <paramref name="markDirty"/>. <paramref name="refused"/> is true when the place holds a newer
    /// bucket (<paramref name="index"/> is too old for this ring); the returned reference is then a scratch value.
    /// When a dirty bucket had to make room, <paramref name="evictedIndex"/> and <paramref name="evictedValue"/> hold it
    /// (evictedIndex is <see cref="Empty"/> otherwise).
    /// </summary>
    [UnscopedRef]
    public ref T Claim(long index, bool markDirty, out bool refused, out long evictedIndex, out T evictedValue)
    {
        refused = false;
        evictedIndex = Empty;
        evictedValue = default;
        if (index == headIndex)
        {
            headDirty |= markDirty;
            return ref head;
        }
        if (index > headIndex)
        {
            if (headIndex != Empty)
            {
                // The head moves into the ring; it is the newest bucket there, so its place is always free to take.
                ref var place = ref SlotOf(headIndex);
                if (place.Dirty)
                {
                    evictedIndex = place.Index;
                    evictedValue = place.Value;
                }
                place.Index = headIndex;
                place.Dirty = headDirty;
                place.Value = head;
            }
            headIndex = index;
            headDirty = markDirty;
            head = default;
            return ref head;
        }
        ref var slot = ref SlotOf(index);
        if (slot.Index > index)
        {
            refused = true;
            return ref discard;
        }
        if (slot.Index != index)
        {
            if (slot.Dirty)
            {
                evictedIndex = slot.Index;
                evictedValue = slot.Value;
            }
            slot.Index = index;
            slot.Dirty = false;
            slot.Value = default;
        }
        slot.Dirty |= markDirty;
        return ref slot.Value;
    }

    /// <summary>The bucket of <paramref name="index"/> if held (<paramref name="found"/>), else a zero value.</summary>
    public readonly T Get(long index, out bool found)
    {
        if (index == headIndex)
        {
            found = true;
            return head;
        }
        ref readonly var slot = ref SlotOfReadOnly(index);
        found = slot.Index == index && index != Empty;
        return found ? slot.Value : default;
    }

    public readonly T Get(long index) => Get(index, out _);

    /// <summary>Places to visit with <see cref="TakeDirty"/>: the ring's slots, then the head.</summary>
    public readonly int Places => slots.Length + 1;

    /// <summary>If the bucket at <paramref name="place"/> (0..Places-1) is dirty: clears the flag and returns it.</summary>
    public bool TakeDirty(int place, out long index, out T value)
    {
        if (place == slots.Length)
        {
            index = headIndex;
            value = head;
            var wasDirty = headDirty;
            headDirty = false;
            return wasDirty;
        }
        ref var slot = ref slots[place];
        index = slot.Index;
        value = slot.Value;
        var dirty = slot.Dirty;
        slot.Dirty = false;
        return dirty;
    }

    /// <summary>Marks every bucket held dirty (after the sink lost what it had, e.g. Redis restarted empty).</summary>
    public void MarkAllDirty()
    {
        foreach (ref var slot in slots.AsSpan())
            if (slot.Index != Empty)
                slot.Dirty = true;
        if (headIndex != Empty)
            headDirty = true;
    }

    /// <summary>Slot arithmetic without bounds checks: index &amp; mask is always inside the array.</summary>
    private readonly ref Slot SlotOf(long index) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), (int)(index & mask));

    private readonly ref readonly Slot SlotOfReadOnly(long index) => ref SlotOf(index);

    private struct Slot
    {
        public long Index;
        public bool Dirty;
        public T Value;
    }
}
