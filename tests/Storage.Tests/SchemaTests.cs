using System.Net;
using Dapper;
using MySql.Data.MySqlClient;
using PoolCluster.Testing;

namespace PoolCluster.Storage.Tests;

/// <summary>One migrated database shared by the tests of <see cref="SchemaTests"/> (each uses its own keys in it).</summary>
public sealed class SchemaDatabaseFixture : IAsyncLifetime, IDisposable
{
    public MariaDbFixture MariaDb { get; } = new();
    public string Database { get; private set; } = "";

    public async Task InitializeAsync() => Database = await MariaDb.CreateMigratedDatabaseAsync("schema");

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => MariaDb.Dispose();
}

public sealed class SchemaTests(SchemaDatabaseFixture schema) : IClassFixture<SchemaDatabaseFixture>
{
    private readonly MariaDbFixture mariaDb = schema.MariaDb;

    // btcpool's names and types (install/bpool_local_db.sql, install/bpool_local_stats_db.sql), as information_schema shows them.
    public static TheoryData<string, string, string> BtcpoolColumns => new()
    {
        { "found_blocks", "id", "int(11)" },
        { "found_blocks", "puid", "int(11)" },
        { "found_blocks", "worker_id", "bigint(20)" },
        { "found_blocks", "worker_full_name", "varchar(50)" },
        { "found_blocks", "job_id", "bigint(20) unsigned" },
        { "found_blocks", "height", "int(11)" },
        { "found_blocks", "is_orphaned", "tinyint(4)" },
        { "found_blocks", "hash", "char(64)" },
        { "found_blocks", "rewards", "bigint(20)" },
        { "found_blocks", "size", "int(11)" },
        { "found_blocks", "prev_hash", "char(64)" },
        { "found_blocks", "bits", "int(10) unsigned" },
        { "found_blocks", "version", "int(11)" },
        { "found_blocks", "created_at", "datetime" },
        { "mining_workers", "worker_id", "bigint(20)" },
        { "mining_workers", "puid", "int(11)" },
        { "mining_workers", "group_id", "int(11)" },
        { "mining_workers", "worker_name", "varchar(50)" },
        { "mining_workers", "accept_1m", "bigint(20)" },
        { "mining_workers", "accept_5m", "bigint(20)" },
        { "mining_workers", "accept_15m", "bigint(20)" },
        { "mining_workers", "reject_15m", "bigint(20)" },
        { "mining_workers", "accept_1h", "bigint(20)" },
        { "mining_workers", "reject_1h", "bigint(20)" },
        { "mining_workers", "accept_count", "int(11)" },
        { "mining_workers", "last_share_ip", "char(16)" },
        { "mining_workers", "last_share_time", "timestamp" },
        { "mining_workers", "miner_agent", "varchar(30)" },
        { "mining_workers", "updated_at", "timestamp" },
        { "stats_pool_hour", "hour", "int(11)" },
        { "stats_pool_hour", "share_accept", "bigint(20)" },
        { "stats_pool_hour", "share_reject", "bigint(20)" },
        { "stats_pool_hour", "reject_rate", "double" },
        { "stats_pool_hour", "score", "decimal(35,25)" },
        { "stats_pool_hour", "earn", "bigint(20)" },
        { "stats_pool_day", "day", "int(11)" },
        { "stats_pool_day", "lucky", "double" },
        { "stats_pool_day", "earn", "bigint(20)" },
        { "stats_users_hour", "puid", "int(11)" },
        { "stats_users_hour", "hour", "int(11)" },
        { "stats_users_hour", "score", "decimal(35,25)" },
        { "stats_users_day", "puid", "int(11)" },
        { "stats_users_day", "day", "int(11)" },
        { "stats_workers_hour", "puid", "int(11)" },
        { "stats_workers_hour", "worker_id", "bigint(20)" },
        { "stats_workers_hour", "hour", "int(11)" },
        { "stats_workers_hour", "share_accept", "bigint(20)" },
        { "stats_workers_day", "puid", "int(11)" },
        { "stats_workers_day", "worker_id", "bigint(20)" },
        { "stats_workers_day", "day", "int(11)" },
        { "stats_workers_day", "created_at", "timestamp" },
    };

    // btcpool's unique and plain keys, which its upserts (INSERT ... ON DUPLICATE KEY UPDATE) and queries rely on.
    public static TheoryData<string, string, bool, string> BtcpoolKeys => new()
    {
        { "found_blocks", "PRIMARY", true, "id" },
        { "found_blocks", "hash", true, "hash" },
        { "found_blocks", "height", false, "height" },
        { "mining_workers", "puid_worker_id", true, "puid,worker_id" },
        { "mining_workers", "puid_group_id", false, "puid,group_id" },
        { "stats_pool_hour", "hour", true, "hour" },
        { "stats_pool_day", "day", true, "day" },
        { "stats_users_hour", "puid_hour", true, "puid,hour" },
        { "stats_users_day", "puid_day", true, "puid,day" },
        { "stats_workers_hour", "puid_worker_id_hour", true, "puid,worker_id,hour" },
        { "stats_workers_day", "puid_worker_id_day", true, "puid,worker_id,day" },
        { "users", "PRIMARY", true, "puid" },
        { "users", "name", true, "name" },
        { "shares", "PRIMARY", true, "id,created_at" },
        { "shares", "user_id_created_at", false, "user_id,created_at" },
        { "shares", "height", false, "height" },
        { "kafka_positions", "PRIMARY", true, "consumer_group,topic,partition" },
    };

    [Theory]
    [MemberData(nameof(BtcpoolColumns))]
    public async Task Btcpool_tables_have_btcpools_columns(string table, string column, string type)
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        var actual = await connection.QuerySingleOrDefaultAsync<string>(
            "SELECT column_type FROM information_schema.columns WHERE table_schema = @database AND table_name = @table AND column_name = @column",
            new { database, table, column });
        Assert.True(actual != null, $"{table}.{column} is missing");
        Assert.Equal(type, actual);
    }

    [Theory]
    [MemberData(nameof(BtcpoolKeys))]
    public async Task Tables_have_their_keys(string table, string key, bool unique, string columns)
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        var rows = (await connection.QueryAsync<(string Column, long NonUnique)>(
            "SELECT column_name, non_unique FROM information_schema.statistics WHERE table_schema = @database AND table_name = @table AND index_name = @key ORDER BY seq_in_index",
            new { database, table, key })).ToList();
        Assert.True(rows.Count > 0, $"{table} has no key {key}");
        Assert.Equal(columns, string.Join(',', rows.Select(r => r.Column)));
        Assert.Equal(unique, rows[0].NonUnique == 0);
    }

    [Fact]
    public async Task Users_resolve_names_to_puids_case_insensitively()
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        await connection.ExecuteAsync("INSERT INTO users (name) VALUES ('alice'), ('bob')");
        await connection.ExecuteAsync("INSERT INTO users (puid, name) VALUES (1000, 'imported')");
        var carol = await connection.ExecuteScalarAsync<long>("INSERT INTO users (name) VALUES ('carol'); SELECT LAST_INSERT_ID()");

        var alice = await connection.ExecuteScalarAsync<int>("SELECT puid FROM users WHERE name = @name", new { name = "Alice" });
        var bob = await connection.ExecuteScalarAsync<int>("SELECT puid FROM users WHERE name = @name", new { name = "bob" });
        Assert.True(alice > 0 && bob > 0 && alice != bob);
        Assert.Equal(1001, carol);
        Assert.Equal(1000, await connection.ExecuteScalarAsync<int>("SELECT puid FROM users WHERE name = 'imported'"));
        var createdAt = await connection.ExecuteScalarAsync<DateTime>("SELECT created_at FROM users WHERE name = 'alice'");
        Assert.InRange(createdAt, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(5));

        var duplicate = await Assert.ThrowsAsync<MySqlException>(() => connection.ExecuteAsync("INSERT INTO users (name) VALUES ('ALICE')"));
        Assert.Equal(1062, duplicate.Number); // ER_DUP_ENTRY
    }

    [Fact]
    public async Task Shares_round_trip_and_answer_the_analysts_queries()
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        var t0 = new DateTime(2026, 3, 1, 12, 0, 0, 123, DateTimeKind.Utc);
        var blockHash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var shares = new[]
        {
            Share(offset: 10, userId: 7, height: 900_000, createdAt: t0, status: 1, ip: "203.0.113.9", hash: blockHash),
            Share(offset: 11, userId: 7, height: 900_000, createdAt: t0.AddSeconds(1), status: 23, ip: "2001:db8::1", hash: null),
            Share(offset: 12, userId: 8, height: 900_001, createdAt: t0.AddSeconds(2), status: 2, ip: "198.51.100.1", hash: blockHash),
            Share(offset: 13, userId: 7, height: 900_001, createdAt: t0.AddHours(2), status: 1, ip: "203.0.113.9", hash: blockHash),
        };
        await connection.ExecuteAsync(InsertShare, shares);

        var userWindow = (await connection.QueryAsync<(long KafkaOffset, byte Status)>(
            "SELECT kafka_offset, status FROM shares WHERE user_id = @userId AND created_at >= @from AND created_at < @to ORDER BY created_at",
            new { userId = 7, from = t0, to = t0.AddHours(1) })).ToList();
        Assert.Equal([(10L, (byte)1), (11L, (byte)23)], userWindow);

        var atHeight = (await connection.QueryAsync<long>("SELECT kafka_offset FROM shares WHERE height = 900001 ORDER BY kafka_offset")).ToList();
        Assert.Equal([12L, 13L], atHeight);

        var first = await connection.QuerySingleAsync(
            "SELECT created_at, INET6_NTOA(ip) AS ip, block_hash, share_diff, session_id, job_id, nonce, version_bits, extranonce2, worker_name FROM shares WHERE kafka_offset = 10");
        Assert.Equal(t0, DateTime.SpecifyKind((DateTime)first.created_at, DateTimeKind.Utc));
        Assert.Equal("203.0.113.9", (string)first.ip);
        Assert.Equal(blockHash, (byte[])first.block_hash);
        Assert.Equal(65536.5, (double)first.share_diff);
        Assert.Equal(ulong.MaxValue, (ulong)first.session_id);
        Assert.Equal(ulong.MaxValue - 1, (ulong)first.job_id);
        Assert.Equal(uint.MaxValue, (uint)first.nonce);
        Assert.Equal(0x1fffe000u, (uint)first.version_bits);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 10 }, (byte[])first.extranonce2);
        Assert.Equal("rig-01", (string)first.worker_name);
        Assert.Equal("2001:db8::1", await connection.ExecuteScalarAsync<string>("SELECT INET6_NTOA(ip) FROM shares WHERE kafka_offset = 11"));
        Assert.Null(await connection.ExecuteScalarAsync<byte[]?>("SELECT block_hash FROM shares WHERE kafka_offset = 11"));
        Assert.Equal(4, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM shares WHERE kafka_partition = 0 AND kafka_offset BETWEEN 10 AND 13"));
    }

    [Fact]
    public async Task The_same_kafka_message_cannot_be_stored_twice()
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        var at = new DateTime(2026, 3, 2, 0, 0, 0, DateTimeKind.Utc);
        await connection.ExecuteAsync(InsertShare, Share(offset: 500, userId: 1, height: 1, createdAt: at, status: 1, ip: "10.0.0.1", hash: null, partition: 3));

        var replay = await Assert.ThrowsAsync<MySqlException>(() => connection.ExecuteAsync(InsertShare,
            Share(offset: 500, userId: 1, height: 1, createdAt: at, status: 1, ip: "10.0.0.1", hash: null, partition: 3)));
        Assert.Equal(1062, replay.Number);
        Assert.Contains("PRIMARY", replay.Message, StringComparison.Ordinal);

        // Same offset in another partition, or a recreated topic's offset at another time, is another share.
        await connection.ExecuteAsync(InsertShare, Share(offset: 500, userId: 1, height: 1, createdAt: at, status: 1, ip: "10.0.0.1", hash: null, partition: 4));
        await connection.ExecuteAsync(InsertShare, Share(offset: 500, userId: 1, height: 1, createdAt: at.AddDays(1), status: 1, ip: "10.0.0.1", hash: null, partition: 3));
        Assert.Equal(3, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM shares WHERE kafka_offset = 500"));
    }

    [Fact]
    public async Task Shares_partitions_can_be_split_daily_and_dropped_as_the_retention_plan_says()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("partitions");
        using var connection = mariaDb.OpenConnection(database);
        Assert.Equal(["p_max"], await connection.QueryAsync<string>(
            "SELECT partition_name FROM information_schema.partitions WHERE table_schema = @database AND table_name = 'shares'", new { database }));

        var day1 = new DateTime(2026, 4, 1, 23, 59, 59, 999, DateTimeKind.Utc);
        var day2 = new DateTime(2026, 4, 2, 0, 0, 0, DateTimeKind.Utc);
        await connection.ExecuteAsync(InsertShare, new[]
        {
            Share(offset: 1, userId: 1, height: 1, createdAt: day1, status: 1, ip: "10.0.0.1", hash: null),
            Share(offset: 2, userId: 1, height: 1, createdAt: day2, status: 1, ip: "10.0.0.1", hash: null),
        });

        // The maintenance job's two statements (docs/storage.md).
        await connection.ExecuteAsync("""
            ALTER TABLE shares REORGANIZE PARTITION p_max INTO (
              PARTITION p20260401 VALUES LESS THAN ('2026-04-02'),
              PARTITION p20260402 VALUES LESS THAN ('2026-04-03'),
              PARTITION p_max VALUES LESS THAN (MAXVALUE))
            """);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM shares PARTITION (p20260401)"));
        await connection.ExecuteAsync("ALTER TABLE shares DROP PARTITION p20260401");

        Assert.Equal([2L], await connection.QueryAsync<long>("SELECT kafka_offset FROM shares"));
    }

    [Fact]
    public async Task Kafka_positions_commit_and_roll_back_with_the_rows()
    {
        var database = schema.Database;
        using var connection = mariaDb.OpenConnection(database);
        const string group = "sharelogger-test";
        var topic = "btc.share." + Guid.NewGuid().ToString("N")[..8];
        var at = new DateTime(2026, 3, 3, 0, 0, 0, DateTimeKind.Utc);

        Assert.Empty(await KafkaPositionStore.LoadAsync(connection, group, topic));

        using (var transaction = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync(InsertShare, Share(offset: 40, userId: 9, height: 5, createdAt: at, status: 1, ip: "10.0.0.2", hash: null, partition: 40), transaction);
            await KafkaPositionStore.SaveAsync(connection, transaction, group, topic, partition: 40, nextOffset: 41);
            await transaction.RollbackAsync();
        }
        Assert.Empty(await KafkaPositionStore.LoadAsync(connection, group, topic));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM shares WHERE kafka_partition = 40"));

        using (var transaction = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync(InsertShare, Share(offset: 40, userId: 9, height: 5, createdAt: at, status: 1, ip: "10.0.0.2", hash: null, partition: 40), transaction);
            await KafkaPositionStore.SaveAsync(connection, transaction, group, topic, partition: 40, nextOffset: 41);
            await KafkaPositionStore.SaveAsync(connection, transaction, group, topic, partition: 41, nextOffset: 7);
            await transaction.CommitAsync();
        }
        using (var transaction = await connection.BeginTransactionAsync())
        {
            await KafkaPositionStore.SaveAsync(connection, transaction, group, topic, partition: 40, nextOffset: 42);
            await transaction.CommitAsync();
        }

        var positions = await KafkaPositionStore.LoadAsync(connection, group, topic);
        Assert.Equal(new Dictionary<int, long> { [40] = 42, [41] = 7 }, positions);
        Assert.Empty(await KafkaPositionStore.LoadAsync(connection, "other-group", topic));
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM shares WHERE kafka_partition = 40"));
    }

    private const string InsertShare = """
        INSERT INTO shares (id, kafka_partition, kafka_offset, user_id, worker_id, worker_name, ip, server_id, session_id, job_id,
                            share_diff, network_diff, status, height, created_at, nonce, ntime, version_bits, extranonce1,
                            extranonce2, block_hash)
        VALUES (@Id, @KafkaPartition, @KafkaOffset, @UserId, @WorkerId, @WorkerName, @Ip, @ServerId, @SessionId, @JobId,
                @ShareDiff, @NetworkDiff, @Status, @Height, @CreatedAt, @Nonce, @Ntime, @VersionBits, @Extranonce1,
                @Extranonce2, @BlockHash)
        """;

    private static object Share(long offset, int userId, uint height, DateTime createdAt, byte status, string ip, byte[]? hash, int partition = 0) => new
    {
        Id = (ulong)partition << 48 | (ulong)offset, // what ShareLogger writes (migration 0007)
        KafkaPartition = partition,
        KafkaOffset = offset,
        UserId = userId,
        WorkerId = -4_611_686_018_427_387_904L + offset,
        WorkerName = "rig-01",
        Ip = IPAddress.Parse(ip).GetAddressBytes(),
        ServerId = 3u,
        SessionId = ulong.MaxValue,
        JobId = ulong.MaxValue - 1,
        ShareDiff = 65536.5,
        NetworkDiff = 1.1e14,
        Status = status,
        Height = height,
        CreatedAt = createdAt,
        Nonce = uint.MaxValue,
        Ntime = 1_770_000_000u,
        VersionBits = 0x1fffe000u,
        Extranonce1 = new byte[] { 0xde, 0xad, 0xbe, 0xef },
        Extranonce2 = BitConverter.GetBytes(offset).Reverse().ToArray(),
        BlockHash = hash,
    };
}
