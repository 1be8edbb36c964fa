using System.Text.Encodings.Web;
using System.Text.Json;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;
using StackExchange.Redis;

namespace PoolCluster.BlkMaker.Recording;

/// <summary>How the submission of a block ended (found_blocks.submit_status).</summary>
public enum BlockSubmitStatus
{
    /// <summary>A node has it on its main chain.</summary>
    Accepted,

    /// <summary>A node stored it, but its best chain has another block at that height.</summary>
    SideChain,

    /// <summary>Every node that answered refused it.</summary>
    Rejected,

    /// <summary>It could not be built, or no node could be reached in time.</summary>
    Failed,
}

/// <summary>One row of found_blocks (btcpool's columns plus the submission's outcome).</summary>
public sealed record FoundBlockRecord(
    int Puid,
    long WorkerId,
    string WorkerFullName,
    ulong JobId,
    int Height,
    string Hash,
    long Rewards,
    int Size,
    string PrevHash,
    uint Bits,
    int Version,
    DateTime CreatedAt,
    BlockSubmitStatus Status,
    string SubmitResult,
    DateTime? SubmittedAt,
    string? BlockHex,
    string UserName,
    string WorkerName)
{
    public static string StatusText(BlockSubmitStatus status) => status switch
    {
        BlockSubmitStatus.Accepted => "accepted",
        BlockSubmitStatus.SideChain => "side-chain",
        BlockSubmitStatus.Rejected => "rejected",
        _ => "failed",
    };

    /// <summary>Blocks that are certainly not in the chain are recorded as orphaned (btcpool's is_orphaned).</summary>
    public bool IsOrphaned => Status is BlockSubmitStatus.Rejected or BlockSubmitStatus.Failed;

    /// <summary>A new block worth announcing (viabtc's newblock event): a node took it.</summary>
    public bool IsFound => Status is BlockSubmitStatus.Accepted or BlockSubmitStatus.SideChain;
}

/// <summary>
/// Writes found blocks to MySQL (found_blocks, idempotent on the unique hash) and announces them on the Redis list
/// newblock exactly once per block (an atomic script guards the push with a per-block mark), so reprocessing a solved
/// share after a restart neither adds a row nor repeats the event. Thread-safe.
/// </summary>
public sealed class FoundBlockRecorder
{
    // KEYS[1]: the hash of blocks already announced; KEYS[2]: the newblock list. ARGV: block hash, event, time.
    private const string PushOnceScript = """
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
          redis.call('RPUSH', KEYS[2], ARGV[2])
          return 1
        end
        return 0
        """;

    private readonly string connectionString;
    private readonly IConnectionMultiplexer? redis;
    private readonly RedisOptions? redisOptions;
    private readonly string coinName;
    private readonly string newBlockListKey;

    public FoundBlockRecorder(string connectionString, IConnectionMultiplexer? redis, RedisOptions? redisOptions, string coinName, string newBlockListKey)
    {
        MySqlDriverCompatibility.Apply();
        this.connectionString = connectionString;
        this.redis = redis;
        this.redisOptions = redisOptions;
        this.coinName = coinName;
        this.newBlockListKey = newBlockListKey;
    }

    /// <summary>The Redis hash marking blocks already pushed to newblock: &lt;KeyPrefix&gt;:blkmaker:newblock_pushed.</summary>
    public string PushedMarksKey => (redisOptions?.FullKeyPrefix ?? "") + "blkmaker:newblock_pushed";

    /// <summary>Inserts the row, or updates the submission columns of the block's existing row (never worsening a success).</summary>
    public void RecordInMySql(FoundBlockRecord block)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        // A block processed again (after a restart) while the nodes are unreachable must not undo an earlier success.
        // MySQL applies the assignments left to right, each seeing the ones before: submit_status, which the
        // condition reads, is assigned last.
        var keep = block.Status == BlockSubmitStatus.Failed ? "`submit_status` IN ('accepted', 'side-chain')" : "FALSE";
        using var command = new MySqlCommand(
            $"""
            INSERT INTO `found_blocks` (`puid`, `worker_id`, `worker_full_name`, `job_id`, `height`, `is_orphaned`, `hash`, `rewards`, `size`,
              `prev_hash`, `bits`, `version`, `created_at`, `submit_status`, `submit_result`, `submitted_at`, `block_hex`)
            VALUES (@puid, @workerId, @workerFullName, @jobId, @height, @orphaned, @hash, @rewards, @size,
              @prevHash, @bits, @version, @createdAt, @status, @result, @submittedAt, @blockHex)
            ON DUPLICATE KEY UPDATE
              `block_hex` = IF({keep}, `block_hex`, VALUES(`block_hex`)),
              `is_orphaned` = IF({keep}, `is_orphaned`, VALUES(`is_orphaned`)),
              `submit_result` = IF({keep}, `submit_result`, VALUES(`submit_result`)),
              `submitted_at` = COALESCE(`submitted_at`, VALUES(`submitted_at`)),
              `submit_status` = IF({keep}, `submit_status`, VALUES(`submit_status`))
            """, connection);
        command.Parameters.AddWithValue("@puid", block.Puid);
        command.Parameters.AddWithValue("@workerId", block.WorkerId);
        command.Parameters.AddWithValue("@workerFullName", Truncate(block.WorkerFullName, 50));
        command.Parameters.AddWithValue("@jobId", block.JobId);
        command.Parameters.AddWithValue("@height", block.Height);
        command.Parameters.AddWithValue("@orphaned", block.IsOrphaned ? 1 : 0);
        command.Parameters.AddWithValue("@hash", block.Hash);
        command.Parameters.AddWithValue("@rewards", block.Rewards);
        command.Parameters.AddWithValue("@size", block.Size);
        command.Parameters.AddWithValue("@prevHash", block.PrevHash);
        command.Parameters.AddWithValue("@bits", block.Bits);
        command.Parameters.AddWithValue("@version", block.Version);
        command.Parameters.AddWithValue("@createdAt", block.CreatedAt);
        command.Parameters.AddWithValue("@status", FoundBlockRecord.StatusText(block.Status));
        command.Parameters.AddWithValue("@result", Truncate(block.SubmitResult, 1024));
        command.Parameters.AddWithValue("@submittedAt", block.SubmittedAt.HasValue ? block.SubmittedAt.Value : DBNull.Value);
        command.Parameters.AddWithValue("@blockHex", block.BlockHex ?? (object)DBNull.Value);
        command.ExecuteNonQuery();
    }

    /// <summary>Pushes the newblock event unless this block was announced before; true when it pushed now. Throws while Redis is down.</summary>
    public bool AnnounceInRedis(FoundBlockRecord block)
    {
        if (redis == null || redisOptions == null)
            return false;
        var database = redis.GetDatabase(redisOptions.Database);
        var result = database.ScriptEvaluate(PushOnceScript,
            [PushedMarksKey, newBlockListKey],
            [block.Hash, NewBlockEvent(coinName, block.Hash, block.UserName, block.WorkerName), DateTimeOffset.UtcNow.ToUnixTimeSeconds()]);
        return (long)result == 1;
    }

    /// <summary>viabtc's event: {"name": "BTC", "hash": "...", "user": "...", "worker": "..."} (its separators, ASCII-escaped like Python's json.dumps).</summary>
    public static string NewBlockEvent(string coinName, string hash, string user, string worker) =>
        $"{{\"name\": {Json(coinName)}, \"hash\": {Json(hash)}, \"user\": {Json(user)}, \"worker\": {Json(worker)}}}";

    private static string Json(string value) => JsonSerializer.Serialize(value, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.Default };

    private static string Truncate(string text, int characters)
    {
        if (text.Length <= characters)
            return text;
        var cut = characters;
        if (char.IsHighSurrogate(text[cut - 1]))
            cut--;
        return text[..cut];
    }
}
