using System.Net;
using Microsoft.Extensions.Logging;

namespace PoolCluster.SServer;

/// <summary>Why a connection was refused at the door.</summary>
public enum Admission
{
    Admitted,
    TooManyConnections,
    TooManyFromIp,
    Banned,
}

/// <summary>
/// Who may connect: the total and per-IP connection limits, and the ban list. A client that floods invalid shares
/// is banned at once; one that keeps sending garbage collects strikes (one per garbage disconnect) and is banned when
/// it has <see cref="BanOptions.StrikesToBan"/> within the strike window. Times are Stopwatch-style ticks passed in
/// by the caller. Thread-safe (one lock; taken per connect and disconnect, never per share).
/// </summary>
public sealed class ConnectionGate
{
    private readonly LimitOptions _limits;
    private readonly BanOptions _ban;
    private readonly SServerCounters _counters;
    private readonly ILogger _logger;
    private readonly long _ticksPerSecond;
    private readonly Dictionary<IPAddress, int> _perIp = [];
    private readonly Dictionary<IPAddress, long> _bannedUntil = [];
    private readonly Dictionary<IPAddress, (int Count, long WindowStart)> _strikes = [];
    private int _total;

    public ConnectionGate(LimitOptions limits, BanOptions ban, SServerCounters counters, ILogger logger, long ticksPerSecond)
    {
        _limits = limits;
        _ban = ban;
        _counters = counters;
        _logger = logger;
        _ticksPerSecond = ticksPerSecond;
    }

    public int Total
    {
        get
        {
            lock (_perIp)
                return _total;
        }
    }

    /// <summary>Counts a new connection against the total only (its real IP is not known yet: PROXY header pending).</summary>
    public Admission TryAdmitAnonymous()
    {
        lock (_perIp)
        {
            if (_total >= _limits.MaxConnections)
                return Admission.TooManyConnections;
            _total++;
            return Admission.Admitted;
        }
    }

    /// <summary>Counts a connection from <paramref name="ip"/>; already counted in the total when <paramref name="countedInTotal"/>.</summary>
    public Admission TryAdmit(IPAddress ip, long now, bool countedInTotal = false)
    {
        lock (_perIp)
        {
            if (_bannedUntil.TryGetValue(ip, out var until))
            {
                if (now < until)
                {
                    if (countedInTotal) _total--;
                    return Admission.Banned;
                }
                _bannedUntil.Remove(ip);
            }
            if (!countedInTotal && _total >= _limits.MaxConnections)
                return Admission.TooManyConnections;
            _perIp.TryGetValue(ip, out var count);
            if (count >= _limits.MaxConnectionsPerIp)
            {
                if (countedInTotal) _total--;
                return Admission.TooManyFromIp;
            }
            _perIp[ip] = count + 1;
            if (!countedInTotal) _total++;
            return Admission.Admitted;
        }
    }

    /// <summary>Releases a connection admitted with <see cref="TryAdmit"/> (<paramref name="ip"/> set) or only anonymously (null).</summary>
    public void Release(IPAddress? ip)
    {
        lock (_perIp)
        {
            _total--;
            if (ip == null || !_perIp.TryGetValue(ip, out var count))
                return;
            if (count <= 1)
                _perIp.Remove(ip);
            else
                _perIp[ip] = count - 1;
        }
    }

    public bool IsBanned(IPAddress ip, long now)
    {
        lock (_perIp)
            return _bannedUntil.TryGetValue(ip, out var until) && now < until;
    }

    public void Ban(IPAddress ip, long now, string reason)
    {
        lock (_perIp)
        {
            _bannedUntil[ip] = now + _ban.BanSeconds * _ticksPerSecond;
            _strikes.Remove(ip);
        }
        _counters.Banned();
        _logger.LogWarning("banned {Ip} for {Seconds} s: {Reason}", ip, _ban.BanSeconds, reason);
    }

    /// <summary>One garbage disconnect from <paramref name="ip"/>; bans it when it has enough within the window.</summary>
    public void Strike(IPAddress ip, long now, string reason)
    {
        if (_ban.StrikesToBan == 0)
            return;
        bool ban;
        lock (_perIp)
        {
            var window = _ban.StrikeWindowSeconds * _ticksPerSecond;
            var (count, start) = _strikes.TryGetValue(ip, out var s) && now - s.WindowStart < window ? s : (0, now);
            count++;
            _strikes[ip] = (count, start);
            ban = count >= _ban.StrikesToBan;
        }
        if (ban)
            Ban(ip, now, $"{_ban.StrikesToBan} garbage disconnects within {_ban.StrikeWindowSeconds} s, the last: {reason}");
    }

    /// <summary>Forgets expired bans and strike windows (called from the server's housekeeping timer).</summary>
    public void Sweep(long now)
    {
        lock (_perIp)
        {
            foreach (var (ip, until) in _bannedUntil)
                if (until <= now)
                    _bannedUntil.Remove(ip);
            var window = _ban.StrikeWindowSeconds * _ticksPerSecond;
            foreach (var (ip, s) in _strikes)
                if (now - s.WindowStart >= window)
                    _strikes.Remove(ip);
        }
    }
}
