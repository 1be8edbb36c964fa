using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.ShareLogger;
using PoolCluster.Storage;

return await PoolHost.RunAsync("sharelogger", args, builder =>
{
    builder.AddValidatedOptions<ShareLoggerOptions>(ShareLoggerOptions.SectionName);
    builder.Services.AddPoolKafka(builder.Configuration);
    builder.Services.AddMySqlStorage(builder.Configuration);
    if (builder.Configuration.GetValue(ShareLoggerOptions.SectionName + ":MigrateOnStart", true))
        builder.Services.AddMySqlMigrationsOnStart();
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddHostedService<SharePartitionMaintenanceService>();
    builder.Services.AddHostedService<ShareLoggerService>();
});
