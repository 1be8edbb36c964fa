using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PoolCluster.BlkMaker;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.Storage;

return await PoolHost.RunAsync("blkmaker", args, builder =>
{
    builder.AddValidatedOptions<BlkMakerOptions>(BlkMakerOptions.SectionName);
    builder.Services.AddPoolKafka(builder.Configuration);
    builder.Services.AddMySqlStorage(builder.Configuration);
    builder.Services.AddRedisStorage(builder.Configuration);
    if (builder.Configuration.GetValue(BlkMakerOptions.SectionName + ":MigrateOnStart", true))
        builder.Services.AddMySqlMigrationsOnStart();
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddHostedService<BlkMakerService>();
});
