namespace PoolCluster.Hosting;

/// <summary>
/// The service's configuration cannot be used (an unreadable or missing config file, a bad logging format, a bad
/// command-line switch). <see cref="PoolHost.RunAsync"/> reports it like an options validation failure: exit code 2.
/// </summary>
public sealed class PoolConfigurationException(string message, Exception? innerException = null)
    : Exception(message, innerException);
