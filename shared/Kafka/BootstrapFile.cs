namespace PoolCluster.Kafka;

/// <summary>
/// The file through which the embedded cluster (services/EmbeddedKafka --bootstrap-file) tells other processes its
/// address: one line, "host:port[,host:port...]". Its ports are chosen by the kernel at start, so they cannot be
/// configured in advance.
/// </summary>
public static class BootstrapFile
{
    /// <summary>Writes atomically: a temp file beside the target, then a rename.</summary>
    public static void Write(string path, string bootstrapServers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, bootstrapServers + "\n");
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Reads the address; a clear error when the file is missing or empty.</summary>
    public static string Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"Kafka bootstrap file '{path}' does not exist: start services/EmbeddedKafka with --bootstrap-file {path} " +
                "(or set Kafka:BootstrapServers)", path);
        var text = File.ReadAllText(path).Trim();
        if (text.Length == 0)
            throw new InvalidDataException($"Kafka bootstrap file '{path}' is empty");
        return text;
    }

    /// <summary>Waits until the file exists and is non-empty, polling; for processes started alongside the cluster.</summary>
    public static async Task<string> WaitAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (File.Exists(path))
            {
                var text = (await File.ReadAllTextAsync(path, cancellationToken)).Trim();
                if (text.Length > 0)
                    return text;
            }
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"Kafka bootstrap file '{path}' did not appear within {timeout.TotalSeconds:0.#} s: is services/EmbeddedKafka running?");
            await Task.Delay(50, cancellationToken);
        }
    }
}
