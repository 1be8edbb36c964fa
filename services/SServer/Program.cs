using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.Storage;

namespace PoolCluster.SServer;

/// <summary>The sserver executable: options, Kafka, the user directory, the server, run by PoolHost.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => PoolHost.RunAsync("sserver", args, builder =>
    {
        builder.AddValidatedOptions<StratumOptions>(StratumOptions.SectionName);
        builder.AddValidatedOptions<VardiffSettings>(VardiffSettings.SectionName);
        builder.AddValidatedOptions<UsersOptions>(UsersOptions.SectionName);
        builder.Services.AddPoolKafka(builder.Configuration);

        // The MySql section is needed (and validated) only when users come from the database.
        var source = builder.Configuration.GetSection(UsersOptions.SectionName).GetValue<UserSource?>(nameof(UsersOptions.Source)) ?? UserSource.MySql;
        if (source == UserSource.MySql)
            builder.Services.AddMySqlStorage(builder.Configuration);
        builder.Services.AddSingleton<IUserDirectory>(sp =>
        {
            var users = sp.GetRequiredService<IOptions<UsersOptions>>().Value;
            return users.Source switch
            {
                UserSource.MySql => new MySqlUserDirectory(sp.GetRequiredService<MySqlConnectionFactory>()),
                UserSource.Http => new HttpUserDirectory(users.HttpUrl, TimeSpan.FromSeconds(users.RequestTimeoutSeconds)),
                _ => new OpenUserDirectory(),
            };
        });
        builder.Services.AddSingleton(sp => new UserResolver(sp.GetRequiredService<IUserDirectory>(),
            sp.GetRequiredService<IOptions<UsersOptions>>().Value, sp.GetRequiredService<ILoggerFactory>().CreateLogger("PoolCluster.SServer.Users")));
        builder.Services.AddSingleton(sp => new StratumServer(
            sp.GetRequiredService<IOptions<StratumOptions>>().Value,
            sp.GetRequiredService<IOptions<VardiffSettings>>().Value,
            sp.GetRequiredService<UserResolver>(),
            sp.GetRequiredService<KafkaOptions>(),
            sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService<SServerService>();
    });
}
