using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Storage.Migrations;
using StackExchange.Redis;

namespace PoolCluster.Storage;

/// <summary>Registers the storage clients a service uses, configured from the "MySql" and "Redis" sections.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="MySqlOptions"/> from "MySql" (validated at host start, errors name the setting) and registers a
    /// singleton <see cref="MySqlConnectionFactory"/>.
    /// </summary>
    public static IServiceCollection AddMySqlStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MySqlOptions>()
            .Bind(configuration.GetSection(MySqlOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MySqlOptions>>(new DelegatingValidator<MySqlOptions>(options => options.Validate()));
        services.AddSingleton<MySqlConnectionFactory>();
        return services;
    }

    /// <summary>
    /// Runs <see cref="MySqlMigrator"/> on the configured database when the host starts, before the services that
    /// are registered after this call start. Several services may do it: runs are serialised and idempotent.
    /// </summary>
    public static IServiceCollection AddMySqlMigrationsOnStart(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddHostedService<MySqlMigrationHostedService>();
        return services;
    }

    /// <summary>
    /// Binds <see cref="RedisOptions"/> from "Redis" (validated at host start) and registers a singleton
    /// <see cref="IConnectionMultiplexer"/> that connects on first use and tolerates Redis being down.
    /// </summary>
    public static IServiceCollection AddRedisStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<RedisOptions>()
            .Bind(configuration.GetSection(RedisOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RedisOptions>>(new DelegatingValidator<RedisOptions>(options => options.Validate()));
        services.AddSingleton<IConnectionMultiplexer>(provider =>
            RedisConnectionFactory.Connect(provider.GetRequiredService<IOptions<RedisOptions>>().Value));
        return services;
    }

    private sealed class DelegatingValidator<T>(Func<T, IReadOnlyList<string>> validate) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var errors = validate(options);
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    private sealed class MySqlMigrationHostedService(MySqlConnectionFactory factory, ILogger<MySqlMigrationHostedService> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) =>
            MySqlMigrator.MigrateAsync(factory.ConnectionString, logger, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
