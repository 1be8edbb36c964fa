using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Stratum;
using PoolCluster.Topics;

namespace PoolCluster.SServer;

/// <summary>
/// One miner's stratum v1 conversation: what it may do in which state, and every answer it gets.
/// <list type="number">
/// <item><c>mining.configure</c> (any time): BIP310 version rolling (pool mask ∩ miner mask, then
/// <c>mining.set_version_mask</c>), minimum-difficulty, subscribe-extranonce.</item>
/// <item><c>mining.subscribe</c>: extranonce1 (= the session id: server id byte + 24-bit counter) and the extranonce2 size.</item>
/// <item><c>mining.authorize</c> (after subscribe, else 25): <c>user.worker</c> by btcpool's name rules (29), the user
/// resolved to its id (<see cref="UserResolver"/>), password <c>d=</c>/<c>md=</c>; then set_difficulty and the current
/// job with clean_jobs=true.</item>
/// <item><c>mining.submit</c> (after authorize, else 24): judged by <see cref="ShareValidator"/>; a block is on Kafka
/// before the miner is answered; every submit becomes a Share message.</item>
/// <item><c>mining.suggest_difficulty</c>, <c>mining.suggest_target</c>, <c>mining.extranonce.subscribe</c>.</item>
/// </list>
/// Every request gets exactly one answer with its id; errors are <c>[code,"message",null]</c> with btcpool's codes.
/// Lines come from the connection's receive loop; jobs from the job thread (<see cref="SendJob"/>); both take this
/// object's lock, which is never held across an await.
/// </summary>
public sealed class StratumSession
{
    /// <summary>Bytes of extranonce1 SServer hands out: server id + 24-bit session counter.</summary>
    public const int Extranonce1Size = 4;

    private enum State : byte { Connected, Subscribed, Authorized }

    private readonly StratumServer _server;
    private readonly MinerConnection _connection;
    private readonly byte[] _extranonce1 = new byte[Extranonce1Size];
    private volatile State _state;
    private ByteString? _extranonce1Bytes;
    private string _agent = "";
    private string _ip = "";
    private StratumWorkerName? _worker;
    private int _userId;
    private int _extranonce2Size;
    private uint _versionMask;
    private bool _extranonceSubscribed;
    private double? _suggestedDifficulty;
    private double? _suggestedMinimum;
    private SessionDifficulty? _difficulty;
    private SubmittedShares? _submitted;
    private long _firstJobSeq = long.MaxValue;
    private long _lastSentSeq;
    private int _garbageLines;
    private long _invalidWindowStart;
    private int _invalidInWindow;

    internal StratumSession(StratumServer server, MinerConnection connection, uint sessionId)
    {
        _server = server;
        _connection = connection;
        SessionId = sessionId;
        BinaryPrimitives.WriteUInt32BigEndian(_extranonce1, sessionId);
        _extranonce2Size = server.Options.Extranonce2Size;
    }

    /// <summary>The session id; its big-endian bytes are the extranonce1.</summary>
    public uint SessionId { get; }

    public ReadOnlySpan<byte> Extranonce1 => _extranonce1;

    public bool IsAuthorized => _state == State.Authorized;

    public MinerConnection Connection => _connection;

    /// <summary>The authorized worker (null before authorize).</summary>
    public StratumWorkerName? Worker => _worker;

    public int UserId => _userId;

    public string Agent => _agent;

    public int Extranonce2Size => _extranonce2Size;

    /// <summary>The BIP310 mask granted by mining.configure (0: no version rolling).</summary>
    public uint VersionMask => _versionMask;

    /// <summary>Vardiff and per-job difficulties (null before authorize).</summary>
    public SessionDifficulty? Difficulty => _difficulty;

    internal SubmittedShares Submitted => _submitted ??= new SubmittedShares();

    /// <summary>Seq of the first job entry sent to this session: earlier entries were never this miner's work.</summary>
    internal long FirstJobSeq => _firstJobSeq;

    internal void OnConnected()
    {
        _ip = _connection.RemoteEndPoint.Address.ToString();
        Publish(WorkerEventKind.Connected);
    }

    internal void OnClosed()
    {
        if (IsAuthorized)
            _server.Counters.AuthorizedSessionClosed();
        if (_ip.Length > 0)
            Publish(WorkerEventKind.Disconnected);
        _server.Logger.LogDebug("session {Session:x8} from {Ip} ({Worker}) closed: {Reason}", SessionId, _ip,
            _worker?.FullName ?? "not authorized", _connection.CloseReason);
    }

    /// <summary>Handles one request line; returns a task when the answer must wait (user lookup, solved block).</summary>
    internal Task? HandleLine(ReadOnlySpan<byte> line, ArrayBufferWriter<byte> output, long now)
    {
        var request = StratumRequest.Parse(line);
        if (!request.IsValid)
        {
            StratumWriter.WriteError(output, request.Id, request.Error);
            if (++_garbageLines >= _server.Options.Limits.MaxInvalidLines)
                _connection.GarbageDisconnect($"{_garbageLines} lines that are not stratum requests, the last: {request.Error.Message}", now);
            return null;
        }
        lock (this)
        {
            switch (request.Method)
            {
                case StratumMethod.Submit:
                    return HandleSubmit(in request, output, now);
                case StratumMethod.Subscribe:
                    HandleSubscribe(in request, output);
                    return null;
                case StratumMethod.Authorize:
                    return HandleAuthorize(in request, output, now);
                case StratumMethod.Configure:
                    HandleConfigure(in request, output, now);
                    return null;
                case StratumMethod.SuggestDifficulty:
                case StratumMethod.SuggestTarget:
                    HandleSuggestDifficulty(in request, output, now);
                    return null;
                case StratumMethod.ExtranonceSubscribe:
                    _extranonceSubscribed = true;
                    StratumWriter.WriteResult(output, request.Id, true);
                    return null;
                default:
                    StratumWriter.WriteError(output, request.Id, StratumErrorCode.IllegalMethod,
                        $"method '{request.MethodNameText}' is not supported");
                    return null;
            }
        }
    }

    private void HandleSubscribe(in StratumRequest request, ArrayBufferWriter<byte> output)
    {
        if (_state != State.Connected)
        {
            StratumWriter.WriteError(output, request.Id, StratumErrorCode.Unknown, "already subscribed");
            return;
        }
        var error = request.ParseSubscribe(out var subscribe);
        if (error.IsError)
        {
            StratumWriter.WriteError(output, request.Id, error);
            return;
        }
        _agent = subscribe.Agent;
        // The size of the job the miner will get first; a later job of another size is announced or reconnects.
        _extranonce2Size = _server.Jobs.Latest?.Job.Extranonce2Size ?? _server.Options.Extranonce2Size;
        // btcpool's subscription ids: the session id, for both subscriptions.
        Span<byte> subscriptionId = stackalloc byte[2 * Extranonce1Size];
        HexAscii(_extranonce1, subscriptionId);
        StratumWriter.WriteSubscribeResult(output, request.Id, subscriptionId, _extranonce1, _extranonce2Size);
        _state = State.Subscribed;
    }

    private Task? HandleAuthorize(in StratumRequest request, ArrayBufferWriter<byte> output, long now)
    {
        if (_state == State.Connected)
        {
            StratumWriter.WriteError(output, request.Id, StratumErrorCode.NotSubscribed);
            return null;
        }
        if (_state == State.Authorized)
        {
            // One worker per connection (as btcpool): a repeated authorize changes nothing.
            StratumWriter.WriteResult(output, request.Id, true);
            return null;
        }
        var error = request.ParseAuthorize(out var authorize);
        if (error.IsError)
        {
            StratumWriter.WriteError(output, request.Id, error);
            return null;
        }
        if (!StratumWorkerName.TryParse(authorize.FullName, out var worker, out var nameError))
        {
            StratumWriter.WriteError(output, request.Id, StratumErrorCode.InvalidUsername, nameError);
            return null;
        }
        if (_server.Users.TryGetCached(worker!.UserName, out var userId))
        {
            CompleteAuthorize(request.Id, worker, userId, authorize.PasswordOptions, output, now);
            return null;
        }
        return AuthorizeAsync(request.Id.ToArray(), worker, authorize.PasswordOptions);
    }

    private async Task AuthorizeAsync(byte[] id, StratumWorkerName worker, StratumPasswordOptions password)
    {
        var lookup = await _server.Users.ResolveAsync(worker.UserName, _server.Stopping).ConfigureAwait(false);
        var output = Outbox.Rent();
        try
        {
            lock (this)
            {
                if (lookup.Found)
                    CompleteAuthorize(id, worker, lookup.UserId, password, output, _server.Time.GetTimestamp());
                else
                    StratumWriter.WriteError(output, id, StratumErrorCode.InvalidUsername, lookup.Error!);
                _connection.Send(output.WrittenSpan);
            }
        }
        finally
        {
            Outbox.Return(output);
        }
        if (!lookup.Found)
            _server.Logger.LogInformation("authorize refused for {Worker} from {Ip}: {Reason}", worker.FullName, _ip, lookup.Error);
    }

    private void CompleteAuthorize(ReadOnlySpan<byte> id, StratumWorkerName worker, int userId, StratumPasswordOptions password,
        ArrayBufferWriter<byte> output, long now)
    {
        var time = _server.ToTimeSpan(now);
        var difficulty = new SessionDifficulty(_server.VarDiff, time, _server.DifficultyTargets);
        if (_suggestedMinimum is { } minimum)
            difficulty.Controller.SetMinimumDifficulty(minimum);
        if (_suggestedDifficulty is { } suggested)
            difficulty.Controller.ResetDifficulty(suggested, time);
        difficulty.Controller.ApplyPasswordOptions(password, time);
        _difficulty = difficulty;
        _worker = worker;
        _userId = userId;
        _state = State.Authorized;
        _server.Counters.SessionAuthorized();
        StratumWriter.WriteResult(output, id, true);
        Publish(WorkerEventKind.Authorized);
        // The first job goes out at once, clean, with its difficulty (btcpool does the same).
        if (_server.Jobs.Latest is { } latest)
            WriteJob(latest, clean: true, output, now);
    }

    private void HandleConfigure(in StratumRequest request, ArrayBufferWriter<byte> output, long now)
    {
        var error = request.ParseConfigure(out var configure);
        if (error.IsError)
        {
            StratumWriter.WriteError(output, request.Id, error);
            return;
        }
        uint? granted = null;
        if (configure!.Requests(ConfigureRequest.VersionRolling) && _server.PoolVersionMask != 0)
        {
            granted = VersionRolling.Negotiate(_server.PoolVersionMask, configure.VersionRollingMask);
            _versionMask = granted.Value;
            if (!VersionRolling.MeetsMinBitCount(granted.Value, configure.VersionRollingMinBitCount))
                _server.Logger.LogInformation("session {Session:x8}: granted version mask {Mask:x8} has fewer than the {Bits} bits the miner asked for",
                    SessionId, granted.Value, configure.VersionRollingMinBitCount);
        }
        var minimumDifficulty = false;
        if (configure.Requests(ConfigureRequest.MinimumDifficulty) && configure.MinimumDifficultyValue is { } minimum and > 0)
        {
            minimumDifficulty = true;
            if (_difficulty != null)
                _difficulty.Controller.SetMinimumDifficulty(minimum);
            else
                _suggestedMinimum = minimum;
        }
        var subscribeExtranonce = configure.Requests(ConfigureRequest.SubscribeExtranonce);
        if (subscribeExtranonce)
            _extranonceSubscribed = true;
        StratumWriter.WriteConfigureResult(output, request.Id, configure, new ConfigureResponse(granted, minimumDifficulty, subscribeExtranonce));
        if (granted is { } mask and not 0)
            StratumWriter.WriteSetVersionMask(output, mask);
    }

    private void HandleSuggestDifficulty(in StratumRequest request, ArrayBufferWriter<byte> output, long now)
    {
        var error = request.Method == StratumMethod.SuggestTarget
            ? request.ParseSuggestTarget(out var difficulty)
            : request.ParseSuggestDifficulty(out difficulty);
        if (error.IsError)
        {
            StratumWriter.WriteError(output, request.Id, error);
            return;
        }
        // Within the pool's bounds; after authorize it reaches the miner with the next job.
        if (_difficulty != null)
            _difficulty.Controller.ResetDifficulty(difficulty, _server.ToTimeSpan(now));
        else
            _suggestedDifficulty = difficulty;
        StratumWriter.WriteResult(output, request.Id, true);
    }

    private Task? HandleSubmit(in StratumRequest request, ArrayBufferWriter<byte> output, long now)
    {
        if (_state != State.Authorized)
        {
            var status = _state == State.Connected ? ShareStatus.NotSubscribed : ShareStatus.Unauthorized;
            StratumWriter.WriteError(output, request.Id, (StratumErrorCode)(int)status);
            if (status == ShareStatus.Unauthorized)
                StratumWriter.WriteReconnect(output); // btcpool: something went wrong; a fresh login fixes it
            Rejected(status, null, now);
            return null;
        }
        var error = request.ParseSubmit(_extranonce2Size, out var submit);
        if (error.IsError)
        {
            StratumWriter.WriteError(output, request.Id, error);
            Rejected(ShareStatus.IllegalParams, null, now);
            return null;
        }

        var judgement = _server.Validator.Judge(this, in submit);
        var share = BuildShare(in judgement, in submit, now);
        if (judgement.Status == ShareStatus.Solved)
        {
            _difficulty!.RecordShare(judgement.Difficulty, _server.ToTimeSpan(now));
            return PublishSolvedAsync(request.Id.ToArray(), BuildSolvedShare(in judgement, in submit, share), share);
        }
        if (judgement.IsAccepted)
        {
            StratumWriter.WriteResult(output, request.Id, true);
            _difficulty!.RecordShare(judgement.Difficulty, _server.ToTimeSpan(now));
            _server.Counters.ShareAccepted();
            _server.Sink.Submit(share);
        }
        else
        {
            StratumWriter.WriteError(output, request.Id, judgement.ErrorCode);
            Rejected(judgement.Status, share, now);
        }
        return null;
    }

    /// <summary>A block: on Kafka (acks from all replicas) first, then the miner's answer, then its Share.</summary>
    private async Task PublishSolvedAsync(byte[] id, SolvedShare solved, Share share)
    {
        _server.Counters.BlockSolved();
        _server.Logger.LogWarning(">>>> block found: height {Height} hash {Hash} by {Worker} (session {Session:x8}, job {JobId})",
            solved.Height, PoolCluster.Bitcoin.Hash256.FromInternalBytes(solved.BlockHash.Span).ToDisplayHex(), _worker!.FullName,
            SessionId, solved.JobId);
        await _server.Sink.PublishSolvedAsync(solved, TimeSpan.FromSeconds(_server.Options.SolvedShareTimeoutSeconds)).ConfigureAwait(false);
        var output = Outbox.Rent();
        try
        {
            StratumWriter.WriteResult(output, id, true);
            _connection.Send(output.WrittenSpan);
        }
        finally
        {
            Outbox.Return(output);
        }
        _server.Counters.ShareAccepted();
        _server.Sink.Submit(share);
    }

    private void Rejected(ShareStatus status, Share? share, long now)
    {
        _server.Counters.ShareRejected();
        _server.Sink.Submit(share ?? BuildShareWithoutJob(status, now));
        // Stale shares follow every new block; they say nothing about the miner.
        var limit = _server.Options.Ban.MaxInvalidSharesPerMinute;
        if (status == ShareStatus.JobNotFound || limit == 0)
            return;
        if (now - _invalidWindowStart >= 60 * _server.Time.TimestampFrequency)
        {
            _invalidWindowStart = now;
            _invalidInWindow = 0;
        }
        if (++_invalidInWindow > limit)
        {
            _server.Gate.Ban(_connection.RemoteEndPoint.Address, now,
                $"more than {limit} invalid shares in a minute from session {SessionId:x8} ({_worker?.FullName ?? "not authorized"})");
            _connection.RequestClose("banned for invalid shares");
        }
    }

    private Share BuildShare(in ShareJudgement judgement, in SubmitRequest submit, long now)
    {
        var job = judgement.Entry?.Job;
        Span<byte> extranonce2 = stackalloc byte[StratumRequestParams.MaxExtranonce2Size];
        submit.WriteExtranonce2(extranonce2);
        var share = NewShare(judgement.Status, judgement.Difficulty > 0 ? judgement.Difficulty : _difficulty?.LastSent ?? 0, now);
        share.JobId = job?.JobId ?? 0;
        share.NetworkDifficulty = job?.NetworkDifficulty ?? 0;
        share.Height = job?.Height ?? 0;
        share.Nonce = submit.Nonce;
        share.Ntime = submit.NTime;
        share.VersionBits = submit.VersionBits;
        share.Extranonce2 = ByteString.CopyFrom(extranonce2[..submit.Extranonce2Size]);
        if (!judgement.Check.BlockHash.IsZero)
        {
            Span<byte> hash = stackalloc byte[32];
            judgement.Check.BlockHash.WriteInternalBytes(hash);
            share.BlockHash = ByteString.CopyFrom(hash);
        }
        return share;
    }

    private Share BuildShareWithoutJob(ShareStatus status, long now) => NewShare(status, _difficulty?.LastSent ?? 0, now);

    private Share NewShare(ShareStatus status, double difficulty, long now) => new()
    {
        UserId = _userId,
        WorkerId = _worker?.WorkerId ?? 0,
        UserName = _worker?.UserName ?? "",
        WorkerName = _worker?.WorkerName ?? "",
        Ip = _ip,
        ServerId = (uint)_server.Options.ServerId,
        SessionId = SessionId,
        ShareDifficulty = difficulty,
        Status = status,
        TimestampUnixMs = _server.ToUnixMs(now),
        Extranonce1 = _extranonce1Bytes ??= ByteString.CopyFrom(_extranonce1),
    };

    private SolvedShare BuildSolvedShare(in ShareJudgement judgement, in SubmitRequest submit, Share share)
    {
        var job = judgement.Entry!.Job;
        Span<byte> extranonce2 = stackalloc byte[StratumRequestParams.MaxExtranonce2Size];
        submit.WriteExtranonce2(extranonce2);
        var en2 = extranonce2[..submit.Extranonce2Size];
        var header = job.Checker.BuildHeader(_extranonce1, en2, submit.NTime, submit.Nonce, submit.VersionBits, _versionMask);
        return new SolvedShare
        {
            JobId = job.JobId,
            GbtHash = job.Message.GbtHash,
            Height = job.Height,
            Header = ByteString.CopyFrom(header.Serialize()),
            Coinbase = ByteString.CopyFrom(job.Checker.BuildCoinbase(_extranonce1, en2)),
            BlockHash = share.BlockHash,
            UserId = _userId,
            WorkerId = _worker!.WorkerId,
            UserName = _worker.UserName,
            WorkerName = _worker.WorkerName,
            ServerId = (uint)_server.Options.ServerId,
            TimestampUnixMs = share.TimestampUnixMs,
            NetworkDifficulty = job.NetworkDifficulty,
            ShareDifficulty = judgement.Difficulty,
        };
    }

    /// <summary>Sends a job entry to this miner (from the job thread); false when it does not take jobs (yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs only in broadcasts: never long enough to tier up
    internal bool SendJob(JobEntry entry, bool clean, long now)
    {
        var output = Outbox.Rent();
        try
        {
            lock (this)
            {
                if (!WriteJob(entry, clean, output, now))
                    return false;
                _connection.Send(output.WrittenSpan);
                if (_connection.CloseRequested)
                    _connection.CloseAfterSend(_connection.CloseReason);
                return true;
            }
        }
        finally
        {
            Outbox.Return(output);
        }
    }

    /// <summary>
    /// Writes set_difficulty (when vardiff changed it) and the notify. A job whose extranonce2 size differs from the
    /// one this miner was given goes with mining.set_extranonce when the miner subscribed to it, otherwise the miner
    /// is asked to reconnect (its extranonce2 would no longer fit the coinbase).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WriteJob(JobEntry entry, bool clean, ArrayBufferWriter<byte> output, long now)
    {
        if (_state != State.Authorized || entry.Seq <= _lastSentSeq || _connection.IsClosed)
            return false;
        if (entry.Job.Extranonce2Size != _extranonce2Size)
        {
            if (!_extranonceSubscribed)
            {
                StratumWriter.WriteReconnect(output);
                _connection.RequestClose($"extranonce2 size changed to {entry.Job.Extranonce2Size}");
                return true;
            }
            _extranonce2Size = entry.Job.Extranonce2Size;
            StratumWriter.WriteSetExtranonce(output, _extranonce1, _extranonce2Size);
        }
        var difficulty = _difficulty!;
        if (difficulty.TakeChangeForNextJob(_server.ToTimeSpan(now), out var newDifficulty))
            StratumWriter.WriteSetDifficulty(output, newDifficulty);
        difficulty.JobSent(entry.Seq);
        var first = _lastSentSeq == 0;
        if (first)
            _firstJobSeq = entry.Seq;
        else if (clean)
            _submitted?.Clear(); // every older job is stale now
        output.Write(entry.Notify.GetLine(forceClean: clean || first).Span);
        _lastSentSeq = entry.Seq;
        return true;
    }

    /// <summary>Graceful stop: asks the miner to reconnect (to this address: the load balancer picks a live server).</summary>
    internal void SendReconnect()
    {
        var output = Outbox.Rent();
        try
        {
            StratumWriter.WriteReconnect(output);
            lock (this)
                _connection.Send(output.WrittenSpan);
        }
        finally
        {
            Outbox.Return(output);
        }
    }

    private void Publish(WorkerEventKind kind) => _server.Sink.Publish(new WorkerEvent
    {
        Kind = kind,
        UserId = _userId,
        WorkerId = _worker?.WorkerId ?? 0,
        UserName = _worker?.UserName ?? "",
        WorkerName = _worker?.WorkerName ?? "",
        Agent = _agent,
        Ip = _ip,
        ServerId = (uint)_server.Options.ServerId,
        SessionId = SessionId,
        TimestampUnixMs = _server.Time.GetUtcNow().ToUnixTimeMilliseconds(),
        Difficulty = _difficulty?.Current ?? 0,
    });

    private static void HexAscii(ReadOnlySpan<byte> bytes, Span<byte> destination)
    {
        const string digits = "0123456789abcdef";
        for (var i = 0; i < bytes.Length; i++)
        {
            destination[2 * i] = (byte)digits[bytes[i] >> 4];
            destination[2 * i + 1] = (byte)digits[bytes[i] & 0xf];
        }
    }
}
