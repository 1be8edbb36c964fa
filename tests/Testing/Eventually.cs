using System.Diagnostics;

namespace PoolCluster.Testing;

/// <summary>Polling with a deadline instead of sleeps.</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every <paramref name="pollMs"/> ms; throws with <paramref name="failure"/>'s text when it is still false after <paramref name="timeout"/>.</summary>
    public static void True(Func<bool> condition, TimeSpan timeout, Func<string> failure, int pollMs = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"not within {timeout.TotalSeconds:0.#} s: {failure()}");
            Thread.Sleep(pollMs);
        }
    }
}
