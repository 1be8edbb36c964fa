using Google.Protobuf;
using PoolCluster.BlkMaker.Templates;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>What BlkMaker keeps: every template a live job may use, bounded by time and count, hot ones ready.</summary>
public sealed class TemplateStoreTests
{
    private static RawGbt Gbt(byte id) => new() { GbtHash = ByteString.CopyFrom(Enumerable.Repeat(id, 32).ToArray()), Height = id };

    private static StratumJob Job(ulong id, RawGbt gbt) => new() { JobId = id, GbtHash = gbt.GbtHash, Height = gbt.Height };

    private static readonly long T0 = 1_800_000_000_000;

    [Fact]
    public void Templates_and_jobs_are_kept_for_the_retention_after_their_last_use_then_dropped()
    {
        var store = new TemplateStore(new BlkMakerOptions { TemplateRetentionMinutes = 10, MaxTemplates = 100, HotTemplates = 2 });
        var used = Gbt(1);
        var unused = Gbt(2);
        store.AddTemplate(used, T0);
        store.AddTemplate(unused, T0);
        store.AddJob(Job(10, used), T0 + 8 * 60_000); // a job at minute 8 keeps its template until minute 18

        store.AddTemplate(Gbt(3), T0 + 15 * 60_000);
        Assert.NotNull(store.FindTemplate(used.GbtHash.Span));
        Assert.Null(store.FindTemplate(unused.GbtHash.Span));
        Assert.NotNull(store.FindJob(10));

        store.AddTemplate(Gbt(4), T0 + 19 * 60_000);
        Assert.Null(store.FindTemplate(used.GbtHash.Span));
        Assert.Null(store.FindJob(10));
        Assert.Equal(2, store.TemplateCount);
    }

    [Fact]
    public void Over_the_cap_templates_no_job_used_go_first_then_the_least_recently_used()
    {
        var store = new TemplateStore(new BlkMakerOptions { TemplateRetentionMinutes = 60, MaxTemplates = 3, HotTemplates = 1 });
        var a = Gbt(1);
        var b = Gbt(2);
        store.AddTemplate(a, T0);
        store.AddJob(Job(1, a), T0);
        store.AddTemplate(b, T0 + 1);
        store.AddJob(Job(2, b), T0 + 1);
        store.AddTemplate(Gbt(3), T0 + 2);
        store.AddTemplate(Gbt(4), T0 + 3);
        Assert.Equal(3, store.TemplateCount);
        Assert.Null(store.FindTemplate(Gbt(3).GbtHash.Span)); // unused, older than the other unused one
        store.AddTemplate(Gbt(5), T0 + 4);
        store.AddTemplate(Gbt(6), T0 + 5);
        Assert.NotNull(store.FindTemplate(a.GbtHash.Span));
        Assert.NotNull(store.FindTemplate(b.GbtHash.Span));
    }

    [Fact]
    public void Only_the_templates_of_the_newest_jobs_stay_hot_and_a_job_arriving_before_its_template_still_makes_it_hot()
    {
        var store = new TemplateStore(new BlkMakerOptions { HotTemplates = 2 });
        var gbts = Enumerable.Range(1, 3).Select(i => Gbt((byte)i)).ToList();
        foreach (var (gbt, i) in gbts.Select((g, i) => (g, i)))
        {
            store.AddTemplate(gbt, T0 + i);
            store.AddJob(Job((ulong)i, gbt), T0 + i)!.Parts();
        }
        Assert.False(store.FindTemplate(gbts[0].GbtHash.Span)!.IsHot);
        Assert.True(store.FindTemplate(gbts[1].GbtHash.Span)!.IsHot);
        Assert.True(store.FindTemplate(gbts[2].GbtHash.Span)!.IsHot);

        var late = Gbt(9);
        Assert.Null(store.AddJob(Job(99, late), T0 + 10));
        var template = store.AddTemplate(late, T0 + 11);
        Assert.NotNull(template);
        Assert.True(template!.Referenced);
    }

    [Fact]
    public async Task A_waiter_gets_a_template_that_arrives_while_it_waits_and_null_when_none_does()
    {
        var store = new TemplateStore(new BlkMakerOptions());
        var gbt = Gbt(7);
        var waiting = store.WaitForTemplateAsync(gbt.GbtHash.ToByteArray(), TimeSpan.FromSeconds(10), CancellationToken.None);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        store.AddTemplate(gbt, T0);
        Assert.Same(store.FindTemplate(gbt.GbtHash.Span), await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Null(await store.WaitForTemplateAsync(Gbt(8).GbtHash.ToByteArray(), TimeSpan.FromMilliseconds(100), CancellationToken.None));
    }
}
