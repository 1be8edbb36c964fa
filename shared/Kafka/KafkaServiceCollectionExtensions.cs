using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PoolCluster.Topics;

namespace PoolCluster.Kafka;

public static class KafkaServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="KafkaOptions"/> bound from section "Kafka" (validated when first resolved; also as
    /// IOptions&lt;KafkaOptions&gt;), the <see cref="TopicManifest"/> and a <see cref="TopicProvisioner"/>.
    /// </summary>
    public static IServiceCollection AddPoolKafka(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        KafkaNative.EnsureInitialized();
        services.AddOptions<KafkaOptions>().Bind(configuration.GetSection(KafkaOptions.SectionName)).Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<KafkaOptions>>().Value);
        services.AddSingleton(_ => TopicManifest.Load());
        services.AddSingleton(sp => new TopicProvisioner(sp.GetRequiredService<KafkaOptions>(), sp.GetRequiredService<TopicManifest>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<TopicProvisioner>()));
        return services;
    }
}
