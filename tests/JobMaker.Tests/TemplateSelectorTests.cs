using Google.Protobuf;
using PoolCluster.JobMaker;
using PoolCluster.Topics;

namespace PoolCluster.JobMaker.Tests;

public class TemplateSelectorTests
{
    private static readonly JobMakerOptions Options = new() { JobIntervalSeconds = 20, TemplateLifetimeSeconds = 90, EmptyTemplateLifetimeSeconds = 15, MaxTemplateDelaySeconds = 60 };
    private const long T0 = 1_700_000_000_000;
    private static int _unique;

    private static RawGbt Template(uint height, long fetchedAt, byte prev = 1, bool headerOnly = false) => new()
    {
        Height = height,
        FetchedAtUnixMs = fetchedAt,
        PreviousBlockHash = ByteString.CopyFrom(Enumerable.Repeat(prev, 32).ToArray()),
        HeaderOnly = headerOnly,
        GbtHash = ByteString.CopyFrom(BitConverter.GetBytes(Interlocked.Increment(ref _unique))),
    };

    [Fact]
    public void Higher_height_publishes_clean_at_once_and_lower_height_from_a_lagging_node_is_ignored()
    {
        var selector = new TemplateSelector(Options);
        Assert.Equal(TemplateVerdict.PublishCleanNow, selector.Offer(Template(100, T0), T0).Verdict);
        Assert.Equal(TemplateVerdict.PublishCleanNow, selector.Offer(Template(101, T0 + 1000, prev: 2), T0 + 1000).Verdict);
        var lagging = selector.Offer(Template(100, T0 + 2000), T0 + 2000);
        Assert.Equal(TemplateVerdict.Ignored, lagging.Verdict);
        Assert.Contains("lagging", lagging.Reason);
        Assert.Equal(101u, selector.Best!.Height);
    }

    [Fact]
    public void A_lower_height_is_taken_once_the_best_has_gone_quiet_for_two_job_intervals()
    {
        var selector = new TemplateSelector(Options);
        selector.Offer(Template(101, T0), T0);
        var later = T0 + 41_000;
        Assert.Equal(TemplateVerdict.PublishCleanNow, selector.Offer(Template(100, later), later).Verdict);
    }

    [Fact]
    public void Full_template_replaces_an_empty_one_at_once_but_not_the_reverse()
    {
        var selector = new TemplateSelector(Options);
        Assert.Equal(TemplateVerdict.PublishCleanNow, selector.Offer(Template(100, T0, headerOnly: true), T0).Verdict);
        Assert.Equal(TemplateVerdict.PublishNow, selector.Offer(Template(100, T0 + 300), T0 + 300).Verdict);
        Assert.Equal(TemplateVerdict.Ignored, selector.Offer(Template(100, T0 + 400, headerOnly: true), T0 + 400).Verdict);
        Assert.False(selector.Best!.HeaderOnly);
    }

    [Fact]
    public void Newer_template_of_the_same_height_is_kept_for_the_next_timed_job_and_an_older_one_is_not()
    {
        var selector = new TemplateSelector(Options);
        selector.Offer(Template(100, T0), T0);
        var newer = Template(100, T0 + 5000);
        Assert.Equal(TemplateVerdict.Kept, selector.Offer(newer, T0 + 5000).Verdict);
        Assert.Equal(TemplateVerdict.Ignored, selector.Offer(Template(100, T0 + 4000), T0 + 6000).Verdict);
        Assert.Same(newer, selector.Best);
    }

    [Fact]
    public void Exact_repeats_and_old_templates_are_dropped()
    {
        var selector = new TemplateSelector(Options);
        var first = Template(100, T0);
        selector.Offer(first, T0);
        Assert.Equal(TemplateVerdict.Ignored, selector.Offer(first.Clone(), T0 + 10).Verdict);
        var stale = selector.Offer(Template(102, T0 - 61_000), T0);
        Assert.Equal(TemplateVerdict.Ignored, stale.Verdict);
        Assert.Contains("ago", stale.Reason);
    }

    [Fact]
    public void Competing_tip_at_the_same_height_keeps_the_first()
    {
        var selector = new TemplateSelector(Options);
        selector.Offer(Template(100, T0, prev: 1), T0);
        Assert.Equal(TemplateVerdict.Ignored, selector.Offer(Template(100, T0 + 10, prev: 9), T0 + 10).Verdict);
    }

    [Fact]
    public void Templates_expire_empty_ones_sooner()
    {
        var selector = new TemplateSelector(Options);
        selector.Offer(Template(100, T0, headerOnly: true), T0);
        Assert.NotNull(selector.BestIfFresh(T0 + 15_000));
        Assert.Null(selector.BestIfFresh(T0 + 15_001));
        selector.Offer(Template(101, T0 + 20_000), T0 + 20_000);
        Assert.NotNull(selector.BestIfFresh(T0 + 110_000));
        Assert.Null(selector.BestIfFresh(T0 + 110_001));
    }
}

public class JobIdGeneratorTests
{
    [Fact]
    public void Ids_increase_are_unique_within_a_millisecond_and_differ_between_instances()
    {
        var a = new JobIdGenerator(1);
        var b = new JobIdGenerator(2);
        var ids = new HashSet<ulong>();
        ulong last = 0;
        for (var i = 0; i < 40_000; i++) // more than the 15-bit counter: spills into the next millisecond
        {
            var id = a.Next(1_700_000_000_000);
            Assert.True(id > last);
            last = id;
            Assert.True(ids.Add(id));
            Assert.True(ids.Add(b.Next(1_700_000_000_000)));
        }
    }

    [Fact]
    public void A_restart_later_never_reuses_an_id_and_the_creation_time_is_recoverable()
    {
        var before = new JobIdGenerator(7).Next(1_700_000_000_000);
        var after = new JobIdGenerator(7).Next(1_700_000_000_001);
        Assert.True(after > before);
        Assert.Equal(1_700_000_000_001, JobIdGenerator.CreatedAtMs(after));
        Assert.Throws<ArgumentOutOfRangeException>(() => new JobIdGenerator(256));
    }
}
