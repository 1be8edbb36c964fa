namespace PoolCluster.Zmq;

/// <summary>A libzmq call failed; the message carries zmq_strerror's text and what was being done.</summary>
public class ZmqException : Exception
{
    public ZmqException(int errorNumber, string message, Exception? innerException = null)
        : base(message, innerException) => ErrorNumber = errorNumber;

    /// <summary>zmq_errno() at the failure (0 when no libzmq call was involved).</summary>
    public int ErrorNumber { get; }
}

/// <summary>libzmq (Debian package libzmq5) is not installed or not usable; the message says what to install.</summary>
public sealed class ZmqLibraryNotFoundException : ZmqException
{
    public ZmqLibraryNotFoundException(string message, Exception? innerException)
        : base(0, message, innerException)
    {
    }
}
