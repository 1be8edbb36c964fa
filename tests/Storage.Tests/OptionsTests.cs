using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MySql.Data.MySqlClient;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;
using StackExchange.Redis;

namespace PoolCluster.Storage.Tests;

public sealed class OptionsTests(MariaDbFixture mariaDb, RedisFixture redis) : IClassFixture<MariaDbFixture>, IClassFixture<RedisFixture>
{
    [Fact]
    public void Parts_compose_a_connection_string_with_the_pool_settings()
    {
        var options = new MySqlOptions { Host = "db.internal", Port = 3307, User = "pool", Password = "s3cret", Database = "btcpool", MaximumPoolSize = 20 };
        var built = new MySqlConnectionStringBuilder(options.BuildConnectionString());
        Assert.Equal("db.internal", built.Server);
        Assert.Equal(3307u, built.Port);
        Assert.Equal("pool", built.UserID);
        Assert.Equal("s3cret", built.Password);
        Assert.Equal("btcpool", built.Database);
        Assert.True(built.Pooling);
        Assert.Equal(20u, built.MaximumPoolSize);
        Assert.Equal(5u, built.ConnectionTimeout);
        Assert.Equal(300u, built.ConnectionLifeTime);
        Assert.Equal("utf8mb4", built.CharacterSet);
    }

    [Fact]
    public void A_separate_password_and_database_override_the_connection_string()
    {
        var options = new MySqlOptions { ConnectionString = "Server=db;User ID=pool;Password=old;Database=a", Password = "from-env", Database = "b" };
        var built = new MySqlConnectionStringBuilder(options.BuildConnectionString());
        Assert.Equal("from-env", built.Password);
        Assert.Equal("b", built.Database);
        Assert.Equal("db", built.Server);
    }

    [Fact]
    public void Invalid_options_name_each_setting()
    {
        var errors = new MySqlOptions { Port = 0, MaximumPoolSize = 0 }.Validate();
        Assert.Contains(errors, e => e.StartsWith("MySql:Host is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MySql:User is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MySql:Port 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MySql:Database is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("MySql:MaximumPoolSize 0", StringComparison.Ordinal));
        Assert.Contains("MySql:ConnectionString is not a valid", Assert.Single(new MySqlOptions { ConnectionString = "Nonsense Key=1" }.Validate()), StringComparison.Ordinal);
        var thrown = Assert.Throws<InvalidOperationException>(() => new MySqlOptions { Host = "h", User = "u" }.BuildConnectionString());
        Assert.Contains("MySql:Database is empty", thrown.Message, StringComparison.Ordinal);

        Assert.Contains(new RedisOptions { Configuration = "" }.Validate(), e => e.StartsWith("Redis:Configuration is empty", StringComparison.Ordinal));
        Assert.Contains(new RedisOptions { KeyPrefix = "btc:" }.Validate(), e => e.StartsWith("Redis:KeyPrefix", StringComparison.Ordinal));
        Assert.Empty(new RedisOptions().Validate());
    }

    [Fact]
    public void Redis_options_turn_off_abort_on_connect_fail_and_take_the_password_from_the_setting()
    {
        var configuration = new RedisOptions { Configuration = "redis.internal:6380,password=old", Password = "from-env", Database = 3, KeyPrefix = "btc" }
            .ToConfigurationOptions();
        Assert.False(configuration.AbortOnConnectFail);
        Assert.Equal("from-env", configuration.Password);
        Assert.Equal(3, configuration.DefaultDatabase);
        Assert.Equal("btc:", new RedisOptions().FullKeyPrefix);
        Assert.Equal("", new RedisOptions { KeyPrefix = "" }.FullKeyPrefix);
    }

    [Fact]
    public async Task A_host_binds_both_sections_with_passwords_from_the_environment_and_migrates_on_start()
    {
        var database = mariaDb.CreateDatabase("hosted");
        var redisOptions = redis.CreateOptions();
        var envPrefix = $"PCTEST_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(envPrefix + "MySql__Password", mariaDb.Server.Password);
        Environment.SetEnvironmentVariable(envPrefix + "Redis__Password", redis.Server.Password);
        try
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["MySql:Host"] = MariaDbServer.Host,
                ["MySql:Port"] = mariaDb.Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["MySql:User"] = MariaDbServer.UserName,
                ["MySql:Database"] = database,
                ["Redis:Configuration"] = redisOptions.Configuration,
                ["Redis:KeyPrefix"] = redisOptions.KeyPrefix,
            });
            builder.Configuration.AddEnvironmentVariables(envPrefix);
            builder.Services.AddMySqlStorage(builder.Configuration).AddMySqlMigrationsOnStart().AddRedisStorage(builder.Configuration);
            using var host = builder.Build();
            await host.StartAsync();

            var factory = host.Services.GetRequiredService<MySqlConnectionFactory>();
            Assert.Equal(database, factory.Database);
            await using (var connection = await factory.OpenConnectionAsync())
                Assert.Equal(MySqlMigrator.EmbeddedMigrations.Count, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_migrations"));

            var options = host.Services.GetRequiredService<IOptions<RedisOptions>>().Value;
            var pool = host.Services.GetRequiredService<IConnectionMultiplexer>().GetPoolDatabase(options);
            await pool.StringSetAsync("hosted", "yes");
            Assert.Equal("yes", (string?)await pool.StringGetAsync("hosted"));
            await host.StopAsync();
        }
        finally
        {
            Environment.SetEnvironmentVariable(envPrefix + "MySql__Password", null);
            Environment.SetEnvironmentVariable(envPrefix + "Redis__Password", null);
        }
    }

    [Fact]
    public async Task A_host_with_bad_storage_settings_fails_at_start_naming_them()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MySql:Host"] = "db" });
        builder.Services.AddMySqlStorage(builder.Configuration).AddRedisStorage(builder.Configuration);
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("MySql:User is empty", error.Message, StringComparison.Ordinal);
    }
}
