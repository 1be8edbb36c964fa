using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Bitcoin;
using PoolCluster.Node;
using PoolCluster.Topics;
using PoolCluster.Zmq;

namespace PoolCluster.GbtMaker;

/// <summary>
/// One node as a source of templates: fetches on demand, long-polls, and reacts to its ZMQ hashblock. A failure marks
/// the node unhealthy (one log line on the change, not one per attempt) and never stalls the other nodes.
/// </summary>
public sealed class NodeTemplateSource : IDisposable
{
    private readonly BitcoindRpcClient _client;
    private readonly TemplatePublisher _publisher;
    private readonly GbtMakerOptions _options;
    private readonly Network _network;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private volatile bool _healthy = true;
    private volatile RawGbt? _lastFull;

    public NodeTemplateSource(NodeEndpoint endpoint, TemplatePublisher publisher, GbtMakerOptions options, TimeProvider time, ILogger logger)
    {
        _client = new BitcoindRpcClient(endpoint);
        _publisher = publisher;
        _options = options;
        _network = Network.FromName(options.Network);
        _time = time;
        _logger = logger;
    }

    public string Name => _client.Name;
    public NodeEndpoint Endpoint => _client.Endpoint;
    public bool Healthy => _healthy;

    /// <summary>Asks the node whether it answers at all (startup check and dead-node probe).</summary>
    public async Task<bool> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var count = await _client.GetBlockCountAsync(cancellationToken).ConfigureAwait(false);
            MarkHealthy($"answers, height {count}");
            return true;
        }
        catch (Exception e) when (e is NodeUnavailableException or NodeRpcException)
        {
            MarkUnhealthy(e.Message);
            return false;
        }
    }

    /// <summary>getblocktemplate, then publish. Null when the node failed (it is then marked unhealthy).</summary>
    public async Task<RawGbt?> FetchAndPublishAsync(string trigger, CancellationToken cancellationToken) =>
        await FetchAsync(null, null, trigger, cancellationToken).ConfigureAwait(false);

    /// <summary>Long-polls while the node is healthy and offers a longpollid; returns when cancelled.</summary>
    public async Task RunLongPollAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var longPollId = _lastFull?.LongpollId;
            if (!_options.LongPoll || !_healthy || string.IsNullOrEmpty(longPollId))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(_options.PollIntervalMs, 1_000)), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }
            var gbt = await FetchAsync(longPollId, TimeSpan.FromMilliseconds(_options.LongPollTimeoutMs + Endpoint.TimeoutMs), "long poll", cancellationToken)
                .ConfigureAwait(false);
            if (gbt == null)
                await Task.Delay(TimeSpan.FromMilliseconds(_options.RetryDeadNodeMs), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Listens to the node's ZMQ hashblock and fetches at once on each new block (a header-only template first, when
    /// enabled). The ZMQ receive blocks, so it runs on its own thread and hands hashes to this async loop.
    /// </summary>
    public async Task RunZmqAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(Endpoint.ZmqHashBlock))
            return;
        var hashes = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest });
        var receiver = new Thread(() => ReceiveHashBlocks(hashes.Writer, cancellationToken)) { IsBackground = true, Name = $"zmq-{Name}" };
        receiver.Start();
        await foreach (var displayHash in hashes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var hashHex = Convert.ToHexStringLower(displayHash);
            _logger.LogInformation("node {Node}: ZMQ hashblock {Hash}", Name, hashHex);
            if (_options.HeaderOnlyTemplates)
                await PublishHeaderOnlyAsync(hashHex, cancellationToken).ConfigureAwait(false);
            await FetchAndPublishAsync("zmq hashblock", cancellationToken).ConfigureAwait(false);
        }
    }

    private void ReceiveHashBlocks(ChannelWriter<byte[]> hashes, CancellationToken cancellationToken)
    {
        try
        {
            using var context = new ZmqContext();
            using var subscriber = new ZmqSubscriber(context);
            subscriber.Subscribe(BitcoindZmq.HashBlock);
            subscriber.Connect(Endpoint.ZmqHashBlock!);
            var message = new ZmqMultipartMessage(3);
            while (!cancellationToken.IsCancellationRequested)
            {
                subscriber.Receive(message, cancellationToken);
                if (BitcoindZmq.TryParse(message, out var notification) && notification.IsTopic(BitcoindZmq.HashBlock)
                    && notification.Body.Length == 32)
                    hashes.TryWrite(notification.Body.ToArray());
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // Polling still runs: a broken ZMQ link costs latency, not templates.
            _logger.LogError(e, "node {Node}: ZMQ hashblock listener on {Endpoint} stopped; polling continues", Name, Endpoint.ZmqHashBlock);
        }
        finally
        {
            hashes.TryComplete();
        }
    }

    private async Task<RawGbt?> FetchAsync(string? longPollId, TimeSpan? timeout, string trigger, CancellationToken cancellationToken)
    {
        try
        {
            var json = await _client.GetBlockTemplateAsync(longPollId, timeout, cancellationToken).ConfigureAwait(false);
            var gbt = BlockTemplateParser.Parse(json, Name, _time.GetUtcNow().ToUnixTimeMilliseconds());
            _lastFull = gbt;
            MarkHealthy("templates again");
            await _publisher.PublishAsync(gbt, trigger, cancellationToken).ConfigureAwait(false);
            return gbt;
        }
        catch (Exception e) when (e is NodeUnavailableException or NodeRpcException or FormatException)
        {
            MarkUnhealthy(e.Message);
            return null;
        }
    }

    /// <summary>
    /// A template from the new block's header alone: previous block = the new block, no transactions, coinbase value =
    /// subsidy. Skipped where the next block's bits cannot be known from the header: a retarget boundary, and testnet
    /// (its 20-minute rule lets bits change on any block).
    /// </summary>
    private async Task PublishHeaderOnlyAsync(string displayHash, CancellationToken cancellationToken)
    {
        try
        {
            if (await _client.GetBlockHeaderAsync(displayHash, cancellationToken).ConfigureAwait(false) is not { } header)
                return;
            var gbt = BuildHeaderOnly(header, displayHash, _lastFull, _network, _time.GetUtcNow().ToUnixTimeMilliseconds(), Name);
            if (gbt != null)
                await _publisher.PublishAsync(gbt, "zmq hashblock, header only", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NodeUnavailableException or NodeRpcException or FormatException or KeyNotFoundException)
        {
            _logger.LogWarning("node {Node}: no header-only template for {Hash}: {Reason}", Name, displayHash, e.Message);
        }
    }

    /// <summary>The header-only template for the block after <paramref name="header"/>, or null where it cannot be known.</summary>
    public static RawGbt? BuildHeaderOnly(JsonElement header, string displayHash, RawGbt? lastFull, Network network, long nowMs, string nodeName)
    {
        var nextHeight = header.GetProperty("height").GetUInt32() + 1;
        if (network == Network.Testnet || (network != Network.Regtest && nextHeight % 2016 == 0))
            return null;
        var medianTime = header.GetProperty("mediantime").GetUInt32();
        var minTime = medianTime + 1;
        var gbt = new RawGbt
        {
            NodeName = nodeName,
            FetchedAtUnixMs = nowMs,
            Height = nextHeight,
            PreviousBlockHash = ByteString.CopyFrom(BlockTemplateParser.DisplayHexToInternal(displayHash)),
            Version = lastFull?.Version ?? header.GetProperty("version").GetUInt32(),
            Bits = uint.Parse(header.GetProperty("bits").GetString() ?? "", NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            CurTime = Math.Max((uint)(nowMs / 1000), minTime),
            MinTime = minTime,
            CoinbaseValue = Subsidy.GetBlockSubsidy((int)nextHeight, network),
            HeaderOnly = true,
        };
        if (lastFull != null)
            gbt.Rules.AddRange(lastFull.Rules);
        gbt.GbtHash = ByteString.CopyFrom(BlockTemplateParser.ComputeIdentity(gbt));
        return gbt;
    }

    private void MarkHealthy(string what)
    {
        if (_healthy)
            return;
        _healthy = true;
        _logger.LogInformation("node {Node} is back: {What}", Name, what);
    }

    private void MarkUnhealthy(string reason)
    {
        if (!_healthy)
            return;
        _healthy = false;
        _logger.LogWarning("node {Node} failed, using the others until it answers: {Reason}", Name, reason);
    }

    public void Dispose() => _client.Dispose();
}
