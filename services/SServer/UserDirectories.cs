using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;

namespace PoolCluster.SServer;

/// <summary>Users from the pool database's <c>users</c> table (puid, name), optionally inserting new ones.</summary>
public sealed class MySqlUserDirectory(MySqlConnectionFactory connections) : IUserDirectory
{
    private const int BatchSize = 50_000;

    public async Task<IReadOnlyList<(string Name, int Id)>> FetchNewAsync(int lastId, CancellationToken cancellationToken)
    {
        // MySql.Data 8.0's async calls complete synchronously: keep them off the caller's thread.
        return await Task.Run(async () =>
        {
            await using var connection = await connections.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var rows = await connection.QueryAsync<(int Puid, string Name)>(new CommandDefinition(
                "SELECT puid, name FROM users WHERE puid > @lastId ORDER BY puid LIMIT @limit",
                new { lastId, limit = BatchSize }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return (IReadOnlyList<(string, int)>)rows.Select(r => (r.Name, r.Puid)).ToList();
        }, cancellationToken).ConfigureAwait(false);
    }

    public Task<int?> FindAsync(string name, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        await using var connection = await connections.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT puid FROM users WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }, cancellationToken);

    public Task<int?> RegisterAsync(string name, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        await using var connection = await connections.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Another SServer may register the same name at the same moment: the unique key makes one insert win, and
        // both read the winner's id.
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT IGNORE INTO users (name) VALUES (@name)", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT puid FROM users WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }, cancellationToken);

    public bool TryResolveLocally(string name, out int id)
    {
        id = 0;
        return false;
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// btcpool's user-list HTTP API: <c>GET url?last_id=N</c> answers
/// <c>{"err_no":0,"err_msg":null,"data":{"alice":1,"bob":2}}</c> with the users whose id is above N.
/// A cache miss polls again at once (at most once a second).
/// </summary>
public sealed class HttpUserDirectory : IUserDirectory
{
    private readonly HttpClient _http;
    private readonly string _url;
    private readonly SemaphoreSlim _oneAtATime = new(1);
    private readonly Dictionary<string, int> _seen = new(StringComparer.OrdinalIgnoreCase);
    private int _lastId;
    private long _lastFetchAt = long.MinValue;

    public HttpUserDirectory(string url, TimeSpan timeout)
    {
        _url = url;
        _http = new HttpClient { Timeout = timeout };
    }

    public async Task<IReadOnlyList<(string Name, int Id)>> FetchNewAsync(int lastId, CancellationToken cancellationToken)
    {
        var separator = _url.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        var address = $"{_url}{separator}last_id={lastId.ToString(CultureInfo.InvariantCulture)}";
        using var response = await _http.GetAsync(address, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var users = Parse(body, address);
        lock (_seen)
        {
            foreach (var (name, id) in users)
            {
                _seen[name] = id;
                _lastId = Math.Max(_lastId, id);
            }
        }
        return users;
    }

    /// <summary>Parses the API's answer; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static List<(string Name, int Id)> Parse(ReadOnlySpan<byte> body, string source)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(body.ToArray()).RootElement;
        }
        catch (JsonException e)
        {
            throw new FormatException($"user list from {source} is not JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException($"user list from {source} is not a JSON object");
        if (!root.TryGetProperty("err_no", out var errNo) || errNo.ValueKind != JsonValueKind.Number)
            throw new FormatException($"user list from {source} has no numeric err_no");
        if (errNo.GetInt32() != 0)
        {
            var message = root.TryGetProperty("err_msg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            throw new FormatException($"user list from {source} answered err_no {errNo.GetInt32()}: {message ?? "(no err_msg)"}");
        }
        var users = new List<(string, int)>();
        if (!root.TryGetProperty("data", out var data) || data.ValueKind == JsonValueKind.Null)
            return users;
        if (data.ValueKind == JsonValueKind.Array && data.GetArrayLength() == 0)
            return users; // PHP encodes an empty map as []
        if (data.ValueKind != JsonValueKind.Object)
            throw new FormatException($"user list from {source}: data must be an object of name: id");
        foreach (var user in data.EnumerateObject())
        {
            if (user.Value.ValueKind != JsonValueKind.Number || !user.Value.TryGetInt32(out var id) || id <= 0)
                throw new FormatException($"user list from {source}: the id of '{user.Name}' must be a positive integer, got {user.Value.GetRawText()}");
            users.Add((user.Name, id));
        }
        return users;
    }

    public async Task<int?> FindAsync(string name, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_seen)
                if (_seen.TryGetValue(name, out var known))
                    return known;
            if (Environment.TickCount64 - _lastFetchAt >= 1000)
            {
                _lastFetchAt = Environment.TickCount64;
                int lastId;
                lock (_seen)
                    lastId = _lastId;
                await FetchNewAsync(lastId, cancellationToken).ConfigureAwait(false);
            }
            lock (_seen)
                return _seen.TryGetValue(name, out var id) ? id : null;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    public Task<int?> RegisterAsync(string name, CancellationToken cancellationToken) => Task.FromResult<int?>(null);

    public bool TryResolveLocally(string name, out int id)
    {
        id = 0;
        return false;
    }

    public void Dispose()
    {
        _http.Dispose();
        _oneAtATime.Dispose();
    }
}

/// <summary>
/// Source None: every well-formed name is a user. Its id is derived from the lower-cased name (SHA-256, 31 bits,
/// never 0), so it is the same on every server and after restarts; it is not a database id.
/// </summary>
public sealed class OpenUserDirectory : IUserDirectory
{
    public static int IdOf(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name.ToLowerInvariant());
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        var id = (int)(BinaryPrimitives.ReadUInt32LittleEndian(hash) & 0x7fffffff);
        return id == 0 ? 1 : id;
    }

    public Task<IReadOnlyList<(string Name, int Id)>> FetchNewAsync(int lastId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<(string, int)>>([]);

    public Task<int?> FindAsync(string name, CancellationToken cancellationToken) => Task.FromResult<int?>(IdOf(name));

    public Task<int?> RegisterAsync(string name, CancellationToken cancellationToken) => Task.FromResult<int?>(IdOf(name));

    public bool TryResolveLocally(string name, out int id)
    {
        id = IdOf(name);
        return true;
    }

    public void Dispose()
    {
    }
}
