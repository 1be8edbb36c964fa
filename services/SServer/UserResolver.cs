using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PoolCluster.SServer;

/// <summary>The answer to "who is this user": an id, or why not (answered to the miner with code 29).</summary>
public readonly record struct UserLookup(int UserId, string? Error)
{
    public bool Found => Error == null;
    public static UserLookup Of(int userId) => new(userId, null);
    public static UserLookup Unknown(string error) => new(0, error);
}

/// <summary>Where user ids come from (<see cref="UsersOptions.Source"/>).</summary>
public interface IUserDirectory : IDisposable
{
    /// <summary>Users with an id above <paramref name="lastId"/> (btcpool's incremental <c>last_id</c> poll).</summary>
    Task<IReadOnlyList<(string Name, int Id)>> FetchNewAsync(int lastId, CancellationToken cancellationToken);

    /// <summary>The id of one user asked for now (a cache miss at authorize), or null when the directory has none.</summary>
    Task<int?> FindAsync(string name, CancellationToken cancellationToken);

    /// <summary>Creates the user and returns its id (auto-registration); null when the directory cannot.</summary>
    Task<int?> RegisterAsync(string name, CancellationToken cancellationToken);

    /// <summary>Answers without any I/O when the directory can (the open directory of Source None).</summary>
    bool TryResolveLocally(string name, out int id);
}

/// <summary>
/// Resolves the user part of <c>user.worker</c> to the pool's user id at mining.authorize. Ids live in memory,
/// loaded at start and refreshed every poll interval with the users added since the highest id seen (btcpool's
/// UserInfo), so an authorize is normally answered without I/O (<see cref="TryGetCached"/>). A name not in memory is
/// looked up once in the directory (and registered when <see cref="UsersOptions.AutoRegister"/> is on); a name found
/// nowhere is remembered as unknown for a few seconds so a misconfigured farm cannot flood the database. Names are
/// matched case-insensitively, like the <c>users</c> table's collation.
/// </summary>
public sealed class UserResolver : IDisposable
{
    private readonly IUserDirectory _directory;
    private readonly UsersOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, long> _unknownUntil = new(StringComparer.OrdinalIgnoreCase);
    // Cache misses go to the database; a reconnect storm of unknown names must not open a connection each.
    private readonly SemaphoreSlim _lookups = new(4);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _polling;
    private int _lastId;

    public UserResolver(IUserDirectory directory, UsersOptions options, ILogger logger)
    {
        _directory = directory;
        _options = options;
        _logger = logger;
    }

    public int CachedUsers => _ids.Count;

    /// <summary>Loads the users (best effort: a directory that is down is retried by the poll) and starts polling.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("{Count} users loaded ({Source})", _ids.Count, _options.Source);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("users not loaded yet ({Reason}); retrying every {Seconds} s", e.Message, _options.PollIntervalSeconds);
        }
        _polling = Task.Run(() => PollAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>The id without waiting, when the user is known in memory (the common case).</summary>
    public bool TryGetCached(string userName, out int userId)
    {
        if (_directory.TryResolveLocally(userName, out userId))
            return true;
        return _ids.TryGetValue(userName, out userId);
    }

    /// <summary>The id, asking the directory (and registering) when needed. Never throws for an unknown or unreachable user.</summary>
    public async Task<UserLookup> ResolveAsync(string userName, CancellationToken cancellationToken)
    {
        if (TryGetCached(userName, out var cached))
            return UserLookup.Of(cached);
        var now = Environment.TickCount64;
        if (_unknownUntil.TryGetValue(userName, out var until) && now < until)
            return UserLookup.Unknown($"user '{userName}' does not exist");

        await _lookups.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (TryGetCached(userName, out cached))
                return UserLookup.Of(cached);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(_options.RequestTimeoutSeconds));
            var id = await _directory.FindAsync(userName, timeout.Token).ConfigureAwait(false);
            if (id == null && _options.AutoRegister)
            {
                id = await _directory.RegisterAsync(userName, timeout.Token).ConfigureAwait(false);
                if (id != null)
                    _logger.LogInformation("registered new user {User} with id {Id}", userName, id);
            }
            if (id is { } found && found > 0)
            {
                _ids[userName] = found;
                return UserLookup.Of(found);
            }
            _unknownUntil[userName] = now + _options.UnknownUserCacheSeconds * 1000L;
            return UserLookup.Unknown($"user '{userName}' does not exist");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("looking up user {User} failed: {Reason}", userName, e.Message);
            return UserLookup.Unknown($"user '{userName}' cannot be checked now (user directory unavailable); try again later");
        }
        finally
        {
            _lookups.Release();
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(_options.RequestTimeoutSeconds * 6));
            var users = await _directory.FetchNewAsync(Volatile.Read(ref _lastId), timeout.Token).ConfigureAwait(false);
            if (users.Count == 0)
                return;
            var maxId = _lastId;
            foreach (var (name, id) in users)
            {
                _ids[name] = id;
                _unknownUntil.TryRemove(name, out _);
                maxId = Math.Max(maxId, id);
            }
            if (maxId == _lastId)
                return;
            Volatile.Write(ref _lastId, maxId);
        }
    }

    private async Task PollAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(_options.PollIntervalSeconds), stopping).ConfigureAwait(false);
                await RefreshAsync(stopping).ConfigureAwait(false);
                var now = Environment.TickCount64;
                foreach (var (name, until) in _unknownUntil)
                    if (until <= now)
                        _unknownUntil.TryRemove(name, out _);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("refreshing users failed: {Reason}", e.Message);
            }
        }
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Cancel();
        try
        {
            _polling?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _directory.Dispose();
        _stopping.Dispose();
        _lookups.Dispose();
    }
}
