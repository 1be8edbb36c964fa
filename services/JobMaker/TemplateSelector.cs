using PoolCluster.Topics;

namespace PoolCluster.JobMaker;

/// <summary>What JobMaker should do after a template arrives.</summary>
public enum TemplateVerdict
{
    /// <summary>Dropped: too old, a repeat, or from a node lagging behind the best height.</summary>
    Ignored,
    /// <summary>Kept as the best template; the next timed job will use it.</summary>
    Kept,
    /// <summary>A new best height: publish a clean job now.</summary>
    PublishCleanNow,
    /// <summary>The full template for the height whose job was empty: publish it now (not clean: same previous block).</summary>
    PublishNow,
}

public sealed record TemplateDecision(TemplateVerdict Verdict, string Reason);

/// <summary>
/// Keeps the best block template, by btcpool's JobMaker rules: the newest height wins at once; a lower height arriving
/// soon after (a lagging node) is ignored; at the same height a full template replaces an empty (header-only) one at once,
/// and a newer full template replaces an older one for the next timed job; templates expire (empty ones sooner);
/// exact repeats (same identity hash) are dropped. Time is always passed in: no clock reads here.
/// </summary>
public sealed class TemplateSelector(JobMakerOptions options)
{
    private readonly Queue<string> _recentIdentities = new();
    private readonly HashSet<string> _recentIdentitySet = [];
    private const int RecentIdentityCapacity = 64;

    public RawGbt? Best { get; private set; }

    /// <summary>When the current best was accepted (local clock, ms), for expiry.</summary>
    public long BestAcceptedAtMs { get; private set; }

    public TemplateDecision Offer(RawGbt gbt, long nowMs)
    {
        var delayMs = nowMs - gbt.FetchedAtUnixMs;
        if (delayMs > options.MaxTemplateDelaySeconds * 1000L)
            return new(TemplateVerdict.Ignored, $"fetched {delayMs / 1000} s ago (limit {options.MaxTemplateDelaySeconds} s)");

        var identity = Convert.ToHexString(gbt.GbtHash.Span);
        if (_recentIdentitySet.Contains(identity))
            return new(TemplateVerdict.Ignored, "exact repeat of a recent template");

        var best = BestIfFresh(nowMs);
        TemplateDecision decision;
        if (best is null)
            decision = new(TemplateVerdict.PublishCleanNow, "first template");
        else if (gbt.Height > best.Height)
            decision = new(TemplateVerdict.PublishCleanNow, $"new height {gbt.Height} (was {best.Height})");
        else if (gbt.Height < best.Height)
        {
            if (!best.HeaderOnly && nowMs - BestAcceptedAtMs < 2L * options.JobIntervalSeconds * 1000)
                return new(TemplateVerdict.Ignored, $"height {gbt.Height} below the best {best.Height}: a lagging node");
            decision = new(TemplateVerdict.PublishCleanNow, $"height {gbt.Height} after the best {best.Height} went quiet: chain reorganised");
        }
        else if (!gbt.PreviousBlockHash.Equals(best.PreviousBlockHash))
            // Two tips at one height: keep mining the one we have until a node moves past it.
            return new(TemplateVerdict.Ignored, "same height on another previous block: keeping the first tip");
        else if (gbt.HeaderOnly)
            return new(TemplateVerdict.Ignored, "empty template for a height that already has a template");
        else if (best.HeaderOnly)
            decision = new(TemplateVerdict.PublishNow, "full template replaces the empty-block job");
        else if (gbt.FetchedAtUnixMs < best.FetchedAtUnixMs)
            return new(TemplateVerdict.Ignored, "older than the best template of the same height");
        else
            decision = new(TemplateVerdict.Kept, "newer template of the same height");

        Remember(identity);
        Best = gbt;
        BestAcceptedAtMs = nowMs;
        return decision;
    }

    /// <summary>The best template unless it has expired (90 s for full templates, 15 s for empty ones by default).</summary>
    public RawGbt? BestIfFresh(long nowMs)
    {
        if (Best is null)
            return null;
        var lifetimeMs = (Best.HeaderOnly ? options.EmptyTemplateLifetimeSeconds : options.TemplateLifetimeSeconds) * 1000L;
        return nowMs - BestAcceptedAtMs <= lifetimeMs ? Best : null;
    }

    private void Remember(string identity)
    {
        _recentIdentities.Enqueue(identity);
        _recentIdentitySet.Add(identity);
        if (_recentIdentities.Count > RecentIdentityCapacity)
            _recentIdentitySet.Remove(_recentIdentities.Dequeue());
    }
}
