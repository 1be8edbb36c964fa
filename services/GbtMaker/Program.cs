using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PoolCluster.GbtMaker;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.Topics;

return await PoolHost.RunAsync("gbtmaker", args, builder =>
{
    builder.AddValidatedOptions<GbtMakerOptions>("GbtMaker");
    builder.Services.AddPoolKafka(builder.Configuration);
    builder.Services.AddSingleton(TimeProvider.System);
    builder.Services.AddSingleton(sp => new TemplatePublisher(
        new PoolProducer<string, RawGbt>(sp.GetRequiredService<KafkaOptions>(), TopicManifest.RawGbt, ProducerMode.Durable,
            sp.GetRequiredService<ILogger<PoolProducer<string, RawGbt>>>()),
        sp.GetRequiredService<ILogger<TemplatePublisher>>()));
    builder.Services.AddHostedService<GbtMakerService>();
});
