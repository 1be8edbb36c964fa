using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PoolCluster.Hosting;
using PoolCluster.JobMaker;
using PoolCluster.Kafka;

return await PoolHost.RunAsync("jobmaker", args, builder =>
{
    builder.AddValidatedOptions<JobMakerOptions>("JobMaker")
        // The payout address is checked at start: a typo must stop the service, not pay nobody.
        .Validate(o =>
        {
            _ = new StratumJobBuilder(o);
            return true;
        });
    builder.Services.AddPoolKafka(builder.Configuration);
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddHostedService<JobMakerService>();
});
