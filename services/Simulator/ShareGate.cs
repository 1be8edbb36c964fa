namespace PoolCluster.Simulator;

/// <summary>
/// --shares N: lets good shares out only while accepted + in flight is below N, so the run ends with exactly N accepted
/// good shares (a rejected one frees its place for another).
/// </summary>
internal sealed class ShareGate
{
    private readonly long? _limit;
    private readonly object _lock = new();
    private long _accepted;
    private long _inFlight;

    public ShareGate(long? limit) => _limit = limit;

    /// <summary>Completes when N good shares were accepted (never without a limit).</summary>
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool TryReserve()
    {
        if (_limit is not { } limit)
            return true;
        lock (_lock)
        {
            if (_accepted + _inFlight >= limit)
                return false;
            _inFlight++;
            return true;
        }
    }

    /// <summary>A reserved share was answered (<paramref name="accepted"/>), lost with its connection, or never sent.</summary>
    public void Complete(bool accepted)
    {
        if (_limit is not { } limit)
            return;
        lock (_lock)
        {
            _inFlight--;
            if (accepted && ++_accepted >= limit)
                Reached.TrySetResult();
        }
    }
}
