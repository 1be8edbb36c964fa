using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.JobMaker;

/// <summary>
/// Consumes templates, keeps the best (<see cref="TemplateSelector"/>), and publishes stratum jobs: at once with
/// clean=true on a new height, at once when a full template replaces an empty-block job, otherwise every
/// JobIntervalSeconds with clean=false. Starts from the newest template: history is never replayed as jobs.
/// </summary>
public sealed class JobMakerService(
    IOptions<JobMakerOptions> options,
    KafkaOptions kafka,
    TimeProvider time,
    ILogger<JobMakerService> logger,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly JobMakerOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // librdkafka's consume blocks: run the loop on its own thread, not the host's.
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        var builder = new StratumJobBuilder(_options);
        var selector = new TemplateSelector(_options);
        var ids = new JobIdGenerator(_options.InstanceId);
        using var consumer = new PoolConsumer<string, RawGbt>(kafka, TopicManifest.RawGbt,
            // No consumer group: JobMaker commits nothing and wants the newest template at once, not after a group join.
            new ConsumerSettings { GroupId = null, StartFrom = StartFrom.Newest },
            loggerFactory.CreateLogger("PoolCluster.JobMaker.RawGbtConsumer"));
        using var producer = new PoolProducer<Null, StratumJob>(kafka, TopicManifest.StratumJob, ProducerMode.Durable,
            loggerFactory.CreateLogger("PoolCluster.JobMaker.StratumJobProducer"));

        var lastJobAtMs = 0L;
        var intervalMs = _options.JobIntervalSeconds * 1000L;
        while (!stoppingToken.IsCancellationRequested)
        {
            ConsumeResult<string, RawGbt>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                // Kafka unreachable: say so and keep trying; the timed job below still runs on the template we have.
                logger.LogWarning("reading templates failed, retrying: {Reason}", e.Error.Reason);
                stoppingToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                result = null;
            }
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (result?.Message?.Value is { } gbt)
            {
                if (gbt.HeaderOnly && !_options.EmptyBlockJobs)
                    continue;
                var decision = selector.Offer(gbt, nowMs);
                logger.LogDebug("template height {Height} from {Node}: {Verdict} ({Reason})", gbt.Height, gbt.NodeName, decision.Verdict, decision.Reason);
                if (decision.Verdict is TemplateVerdict.PublishCleanNow or TemplateVerdict.PublishNow)
                {
                    Publish(gbt, decision.Verdict == TemplateVerdict.PublishCleanNow, decision.Reason, nowMs);
                    lastJobAtMs = nowMs;
                }
                continue;
            }
            if (nowMs - lastJobAtMs >= intervalMs)
            {
                if (selector.BestIfFresh(nowMs) is { } best)
                    Publish(best, clean: false, "job interval", nowMs);
                else if (selector.Best != null)
                    logger.LogWarning("no fresh template: the last one (height {Height}) is older than its lifetime; no job sent", selector.Best.Height);
                lastJobAtMs = nowMs;
            }
        }

        void Publish(RawGbt gbt, bool clean, string reason, long nowMs)
        {
            StratumJob job;
            try
            {
                job = builder.Build(gbt, ids.Next(nowMs), clean, nowMs);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
            {
                logger.LogError("cannot build a job from template height {Height} of {Node}: {Reason}", gbt.Height, gbt.NodeName, e.Message);
                return;
            }
            // Jobs are small and rare; waiting for the ack keeps their order and surfaces a dead cluster at once.
            try
            {
                producer.ProduceAsync(null!, job, stoppingToken).GetAwaiter().GetResult();
            }
            catch (ProduceException<Null, StratumJob> e)
            {
                // Miners keep the previous job; the next template or timer tick tries again.
                logger.LogError("job {JobId} height {Height} not published: {Reason}", job.JobId, job.Height, e.Error.Reason);
                return;
            }
            logger.LogInformation("job {JobId} height {Height} clean={Clean} empty={Empty} txs={Txs} ({Reason})",
                job.JobId, job.Height, job.Clean, job.EmptyBlock, job.TransactionCount, reason);
        }
    }
}
