using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Bitcoin;
using PoolCluster.Stratum;

namespace PoolCluster.Simulator.Tests;

/// <summary>How the in-test server names its jobs.</summary>
public enum JobIdStyle
{
    /// <summary>4 hex digits, as SServer's wire ids and the recorded session's "6a1f".</summary>
    Short,
    /// <summary>JobMaker's 64-bit ids (Unix ms &lt;&lt; 23 | counter) as 16 hex digits: the creation time is readable.</summary>
    JobMakerTime,
}

public sealed record TestServerOptions
{
    public required RecordedSession Recording { get; init; }
    public double Difficulty { get; init; } = 0.001;
    public JobIdStyle JobIds { get; init; } = JobIdStyle.Short;

    /// <summary>Disconnect a session after this many unreadable lines (SServer's Limits:MaxInvalidLines); 0 never.</summary>
    public int MaxGarbageLines { get; init; }

    /// <summary>How long every mining.submit waits for its answer (a slow server).</summary>
    public TimeSpan AnswerDelay { get; init; }

    /// <summary>First byte of every extranonce1 (tells several test servers apart).</summary>
    public byte ServerId { get; init; } = 1;
}

/// <summary>What the server decided about one mining.submit (code 0 = accepted).</summary>
public sealed record SubmitVerdict(string User, string Worker, string JobId, int Code, double Difficulty, bool Garbage);

/// <summary>
/// A small stratum v1 server over real sockets, for testing the simulator without SServer: subscribe (extranonce1 per
/// session, extranonce2 size from the recording), authorize (any user.worker), set_difficulty and notify of the real
/// recorded cpuminer job (new jobs differ in ntime and id), and every submit judged the way btcpool judges it, with
/// <see cref="ShareChecker"/> at the difficulty the job was sent with: unknown or stale job 21, duplicate 22, low
/// difficulty 23, unreadable line 27. Everything it decided is recorded for the assertions.
/// </summary>
public sealed class TestStratumServer : IAsyncDisposable
{
    private readonly TestServerOptions _options;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ShareChecker _checker;
    private readonly List<Session> _sessions = [];
    private readonly List<Task> _connections = [];
    private readonly object _lock = new();
    private readonly Task _acceptLoop;
    private Job _job;
    private int _jobCounter;
    private double _difficulty;
    private int _sessionCounter;

    private TestStratumServer(TestServerOptions options)
    {
        _options = options;
        _checker = options.Recording.CreateChecker();
        _difficulty = options.Difficulty;
        _job = NewJob(clean: true);
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(4096);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        // On the thread pool, not on the test framework's synchronization context (which has one thread per core).
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public static TestStratumServer Start(TestServerOptions options) => new(options);

    public int Port { get; }
    public string Url => $"stratum+tcp://127.0.0.1:{Port}";

    public ConcurrentQueue<SubmitVerdict> Verdicts { get; } = new();
    public ConcurrentQueue<IPAddress> RemoteAddresses { get; } = new();
    public int ConnectionsAccepted;
    public int Authorizations;

    public int AuthorizedNow
    {
        get
        {
            lock (_lock)
                return _sessions.Count(s => s.Worker != null && !s.Closed);
        }
    }

    public string CurrentJobId
    {
        get
        {
            lock (_lock)
                return _job.Id;
        }
    }

    public int Accepted => Verdicts.Count(v => v.Code == 0);

    public Dictionary<int, int> RejectedByCode() =>
        Verdicts.Where(v => v.Code != 0).GroupBy(v => v.Code).ToDictionary(g => g.Key, g => g.Count());

    public Dictionary<string, double> AcceptedDifficultyByUser() =>
        Verdicts.Where(v => v.Code == 0).GroupBy(v => v.User).ToDictionary(g => g.Key, g => g.Sum(v => v.Difficulty));

    /// <summary>The difficulty for the next job each session gets (sent before that notify, as btcpool does).</summary>
    public void SetDifficulty(double difficulty)
    {
        lock (_lock)
            _difficulty = difficulty;
    }

    /// <summary>Sends a new job (clean by default) to every authorized session; returns its id.</summary>
    public string BroadcastNewJob(bool clean = true)
    {
        List<Session> sessions;
        Job job;
        lock (_lock)
        {
            job = _job = NewJob(clean);
            sessions = _sessions.Where(s => s.Worker != null && !s.Closed).ToList();
        }
        foreach (var session in sessions)
            SendJob(session, job, forceClean: false);
        return job.Id;
    }

    /// <summary>Writes one raw line (e.g. client.reconnect) to every authorized session.</summary>
    public void SendToAll(string line)
    {
        List<Session> sessions;
        lock (_lock)
            sessions = _sessions.Where(s => s.Worker != null && !s.Closed).ToList();
        foreach (var session in sessions)
            session.Write(Encoding.UTF8.GetBytes(line + "\n"));
    }

    private Job NewJob(bool clean)
    {
        var counter = ++_jobCounter;
        var id = _options.JobIds == JobIdStyle.Short
            ? (0x6a1f + counter).ToString("x4")
            : (((ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 23) | (uint)counter).ToString("x16");
        var recording = _options.Recording;
        var ntime = recording.NTime + (uint)counter;
        var notify = MiningNotify.Create(id, _checker.PreviousBlockHash.ToInternalBytes(), _checker.Coinbase1, _checker.Coinbase2,
            _checker.MerkleBranch.Select(h => (ReadOnlyMemory<byte>)h.ToInternalBytes()).ToList(), _checker.Version, _checker.Bits, ntime, clean);
        return new Job(id, ntime, clean, notify, counter);
    }

    private void SendJob(Session session, Job job, bool forceClean)
    {
        var buffer = new ArrayBufferWriter<byte>();
        double difficulty;
        lock (_lock)
            difficulty = _difficulty;
        lock (session)
        {
            if (session.SentDifficulty != difficulty)
            {
                StratumWriter.WriteSetDifficulty(buffer, difficulty);
                session.SentDifficulty = difficulty;
            }
            if (job.Clean || forceClean)
                session.OldestLiveJob = job.Sequence;
            session.Jobs[job.Id] = (job, difficulty);
            job.Notify.WriteTo(buffer, forceClean);
        }
        session.Write(buffer.WrittenSpan.ToArray());
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                socket.NoDelay = true;
                Interlocked.Increment(ref ConnectionsAccepted);
                RemoteAddresses.Enqueue(((IPEndPoint)socket.RemoteEndPoint!).Address);
                var index = Interlocked.Increment(ref _sessionCounter);
                var session = new Session(socket, [_options.ServerId, (byte)(index >> 16), (byte)(index >> 8), (byte)index]);
                lock (_lock)
                {
                    _sessions.Add(session);
                    _connections.Add(ServeAsync(session));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(Session session)
    {
        await Task.Yield();
        var stream = new NetworkStream(session.Socket, ownsSocket: false);
        var pipe = PipeReader.Create(stream);
        using var reader = new StratumLineReader(pipe);
        try
        {
            while (await reader.ReadAsync(_stop.Token))
            {
                LineStatus status;
                while ((status = reader.TryReadLine(out var line)) == LineStatus.Line)
                    if (!Handle(session, line))
                        return;
                if (status == LineStatus.LineTooLong)
                    return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            session.Closed = true;
            await pipe.CompleteAsync();
            try
            {
                session.Socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            session.Socket.Dispose();
        }
    }

    /// <summary>Answers one line; false to disconnect.</summary>
    private bool Handle(Session session, ReadOnlySpan<byte> line)
    {
        var output = new ArrayBufferWriter<byte>(256);
        var request = StratumRequest.Parse(line);
        if (!request.IsValid)
        {
            // Recorded before answering: once the answer is out, the test may already be reading the verdicts.
            Verdicts.Enqueue(new SubmitVerdict(session.User ?? "", session.Worker ?? "", "", (int)request.Error.Code, 0, Garbage: true));
            StratumWriter.WriteError(output, request.Id, request.Error);
            session.Write(output.WrittenSpan.ToArray());
            return _options.MaxGarbageLines == 0 || ++session.GarbageLines < _options.MaxGarbageLines;
        }
        switch (request.Method)
        {
            case StratumMethod.Subscribe:
                StratumWriter.WriteSubscribeResult(output, request.Id, "73696d"u8, session.Extranonce1, _options.Recording.Extranonce2Size);
                session.Write(output.WrittenSpan.ToArray());
                return true;
            case StratumMethod.Authorize:
            {
                var error = request.ParseAuthorize(out var authorize);
                if (error.IsError || !StratumWorkerName.TryParse(authorize.FullName, out var worker, out _))
                {
                    StratumWriter.WriteError(output, request.Id, StratumErrorCode.InvalidUsername);
                    session.Write(output.WrittenSpan.ToArray());
                    return true;
                }
                session.User = worker!.UserName;
                session.Worker = worker.WorkerName;
                Interlocked.Increment(ref Authorizations);
                StratumWriter.WriteResult(output, request.Id, true);
                session.Write(output.WrittenSpan.ToArray());
                Job job;
                lock (_lock)
                    job = _job;
                SendJob(session, job, forceClean: true);
                return true;
            }
            case StratumMethod.Submit:
            {
                var code = Judge(session, in request, out var jobId, out var difficulty);
                Verdicts.Enqueue(new SubmitVerdict(session.User ?? "", session.Worker ?? "", jobId, code, difficulty, Garbage: false));
                if (code == 0)
                    StratumWriter.WriteResult(output, request.Id, true);
                else
                    StratumWriter.WriteError(output, request.Id, (StratumErrorCode)code);
                var answer = output.WrittenSpan.ToArray();
                if (_options.AnswerDelay > TimeSpan.Zero)
                    _ = Task.Delay(_options.AnswerDelay).ContinueWith(_ => session.Write(answer), TaskScheduler.Default);
                else
                    session.Write(answer);
                return true;
            }
            default:
                StratumWriter.WriteError(output, request.Id, StratumErrorCode.IllegalMethod);
                session.Write(output.WrittenSpan.ToArray());
                return true;
        }
    }

    private int Judge(Session session, in StratumRequest request, out string jobId, out double difficulty)
    {
        jobId = "";
        difficulty = 0;
        var error = request.ParseSubmit(_options.Recording.Extranonce2Size, out var submit);
        if (error.IsError)
            return (int)error.Code;
        if (session.Worker == null)
            return (int)StratumErrorCode.UnauthorizedWorker;
        jobId = Encoding.UTF8.GetString(submit.JobId);
        Job job;
        lock (session)
        {
            if (!session.Jobs.TryGetValue(jobId, out var sent) || sent.Job.Sequence < session.OldestLiveJob)
                return (int)StratumErrorCode.JobNotFound;
            (job, difficulty) = sent;
            if (!session.Submitted.Add((jobId, submit.Extranonce2, submit.NTime, submit.Nonce)))
                return (int)StratumErrorCode.DuplicateShare;
        }
        Span<byte> extranonce2 = stackalloc byte[submit.Extranonce2Size];
        submit.WriteExtranonce2(extranonce2);
        var result = _checker.Check(session.Extranonce1, extranonce2, submit.NTime, submit.Nonce, Target.FromDifficulty(difficulty));
        return result.IsValid ? 0 : (int)StratumErrorCode.LowDifficulty;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        List<Task> connections;
        List<Session> sessions;
        lock (_lock)
        {
            connections = [.. _connections];
            sessions = [.. _sessions];
        }
        foreach (var session in sessions)
            session.Socket.Dispose();
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private sealed record Job(string Id, uint NTime, bool Clean, MiningNotify Notify, int Sequence);

    private sealed class Session(Socket socket, byte[] extranonce1)
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        public Socket Socket { get; } = socket;
        public byte[] Extranonce1 { get; } = extranonce1;
        public string? User;
        public string? Worker;
        public volatile bool Closed;
        public double SentDifficulty;
        public int OldestLiveJob;
        public int GarbageLines;
        public readonly Dictionary<string, (Job Job, double Difficulty)> Jobs = [];
        public readonly HashSet<(string, ulong, uint, uint)> Submitted = [];

        /// <summary>Writes whole lines in order (handler and broadcasts write from different threads).</summary>
        public void Write(byte[] bytes)
        {
            _writeLock.Wait();
            try
            {
                if (!Closed)
                    Socket.Send(bytes);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Closed = true;
            }
            finally
            {
                _writeLock.Release();
            }
        }
    }
}
