namespace PoolCluster.Kafka;

/// <summary>Where a <see cref="PoolConsumer{TKey,TMessage}"/> starts reading each partition it is given.</summary>
public readonly record struct StartFrom
{
    public enum StartMode
    {
        /// <summary>The group's committed offset; where none, <see cref="ConsumerSettings.AutoOffsetReset"/> (earliest by default).</summary>
        Committed,

        /// <summary>The last message already in the partition (end − 1), then everything after it; an empty partition from its end.</summary>
        Newest,

        /// <summary>The first message whose timestamp is at or after <see cref="At"/>.</summary>
        Timestamp,
    }

    public StartMode Mode { get; }

    /// <summary>For <see cref="StartMode.Timestamp"/>.</summary>
    public DateTimeOffset At { get; }

    private StartFrom(StartMode mode, DateTimeOffset at)
    {
        Mode = mode;
        At = at;
    }

    /// <summary>Resume after the last commit of the consumer's group (BlkMaker, ShareLogger): nothing skipped.</summary>
    public static StartFrom Committed => new(StartMode.Committed, default);

    /// <summary>Only the present state onwards (SServer: the latest job, never history).</summary>
    public static StartFrom Newest => new(StartMode.Newest, default);

    /// <summary>
    /// From a point in time (StatsHttpd: the last day). Uses the broker's offsetsForTimes; where the broker cannot
    /// answer by timestamp (the embedded mock cluster) it searches the partition's message timestamps instead.
    /// </summary>
    public static StartFrom Timestamp(DateTimeOffset at) => new(StartMode.Timestamp, at);

    public override string ToString() => Mode == StartMode.Timestamp ? $"Timestamp({At:O})" : Mode.ToString();
}
