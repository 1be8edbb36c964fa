using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Templates;

/// <summary>
/// The templates (by gbt_hash) and jobs (by job_id) BlkMaker may need to rebuild a block: every template and job seen
/// in the last <see cref="BlkMakerOptions.TemplateRetentionMinutes"/> of message time (from its arrival, or from the
/// newest job using it), at most <see cref="BlkMakerOptions.MaxTemplates"/> templates (the ones no job used are evicted
/// first). The templates of the newest <see cref="BlkMakerOptions.HotTemplates"/> jobs are kept hot (ready to send).
/// Fed by the RawGbt and StratumJob reader threads; read by the submission path. Thread-safe.
/// </summary>
internal sealed class TemplateStore(BlkMakerOptions options)
{
    private readonly object gate = new();
    private readonly Dictionary<string, PreparedTemplate> templates = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, (StratumJob Job, long SeenMs)> jobs = [];
    private readonly LinkedList<PreparedTemplate> hot = new();
    private TaskCompletionSource changed = NewSignal();
    private long clockMs;

    public int TemplateCount
    {
        get
        {
            lock (gate)
                return templates.Count;
        }
    }

    public int JobCount
    {
        get
        {
            lock (gate)
                return jobs.Count;
        }
    }

    public static string KeyOf(ReadOnlySpan<byte> gbtHash) => Convert.ToHexStringLower(gbtHash);

    /// <summary>
    /// Adds a template; returns it when a job already uses it (the caller makes it hot, outside the lock), else null.
    /// </summary>
    public PreparedTemplate? AddTemplate(RawGbt gbt, long messageTimeMs)
    {
        var key = KeyOf(gbt.GbtHash.Span);
        lock (gate)
        {
            Advance(messageTimeMs);
            if (templates.TryGetValue(key, out var known))
            {
                known.LastUsedMs = Math.Max(known.LastUsedMs, messageTimeMs);
                return null;
            }
            var template = new PreparedTemplate(gbt, messageTimeMs);
            templates[key] = template;
            // A job may have arrived first (the two topics are read independently).
            if (jobs.Values.Any(j => KeyOf(j.Job.GbtHash.Span) == key))
            {
                template.Referenced = true;
                MakeHot(template);
            }
            Evict();
            Signal();
            return template.Referenced ? template : null;
        }
    }

    /// <summary>
    /// Adds a job and marks its template used; returns the template to make hot (the caller prepares it outside the
    /// lock), or null.
    /// </summary>
    public PreparedTemplate? AddJob(StratumJob job, long messageTimeMs)
    {
        lock (gate)
        {
            Advance(messageTimeMs);
            jobs[job.JobId] = (job, messageTimeMs);
            PreparedTemplate? result = null;
            if (templates.TryGetValue(KeyOf(job.GbtHash.Span), out var template))
            {
                template.Referenced = true;
                template.LastUsedMs = Math.Max(template.LastUsedMs, messageTimeMs);
                MakeHot(template);
                result = template;
            }
            Evict();
            Signal();
            return result;
        }
    }

    public PreparedTemplate? FindTemplate(ReadOnlySpan<byte> gbtHash)
    {
        var key = KeyOf(gbtHash);
        lock (gate)
            return templates.GetValueOrDefault(key);
    }

    public StratumJob? FindJob(ulong jobId)
    {
        lock (gate)
            return jobs.TryGetValue(jobId, out var entry) ? entry.Job : null;
    }

    /// <summary>Completes when anything is added (then look again).</summary>
    public Task Changed
    {
        get
        {
            lock (gate)
                return changed.Task;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for a template to arrive; null when it did not.</summary>
    public async Task<PreparedTemplate?> WaitForTemplateAsync(byte[] gbtHash, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            var next = Changed;
            if (FindTemplate(gbtHash) is { } found)
                return found;
            try
            {
                await next.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return FindTemplate(gbtHash);
            }
        }
    }

    private void MakeHot(PreparedTemplate template)
    {
        hot.Remove(template);
        hot.AddFirst(template);
        while (hot.Count > options.HotTemplates)
        {
            hot.Last!.Value.Cool();
            hot.RemoveLast();
        }
    }

    private void Advance(long messageTimeMs) => clockMs = Math.Max(clockMs, messageTimeMs);

    private void Evict()
    {
        var horizon = clockMs - options.TemplateRetentionMinutes * 60_000L;
        foreach (var stale in templates.Values.Where(t => t.LastUsedMs < horizon).ToList())
            Remove(stale);
        foreach (var (id, _) in jobs.Where(j => j.Value.SeenMs < horizon).ToList())
            jobs.Remove(id);
        if (templates.Count > options.MaxTemplates)
        {
            // Unused templates first (no job was built from them), then the least recently used.
            foreach (var victim in templates.Values.OrderBy(t => t.Referenced).ThenBy(t => t.LastUsedMs).Take(templates.Count - options.MaxTemplates).ToList())
                Remove(victim);
        }
    }

    private void Remove(PreparedTemplate template)
    {
        templates.Remove(template.Key);
        if (hot.Remove(template))
            template.Cool();
    }

    private void Signal()
    {
        var previous = changed;
        changed = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
