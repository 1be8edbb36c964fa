using System.Diagnostics;
using System.Text;
using PoolCluster.Testing;

namespace PoolCluster.SServer.Tests;

/// <summary>services/SServer.LoadClient as a child process (its sockets and objects stay out of the test's heap).</summary>
internal sealed class LoadClientProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LoadClientProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static LoadClientProcess Start(params string[] args)
    {
        var dll = EmbeddedKafkaProcess.FindBuiltAssembly("services/SServer.LoadClient", "PoolCluster.SServer.LoadClient");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        var client = new LoadClientProcess(new Process { StartInfo = info });
        client._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null)
            {
                client._ready.TrySetException(new InvalidOperationException("load client exited: " + client.Output));
                return;
            }
            lock (client._output)
                client._output.AppendLine(e.Data);
            if (e.Data.StartsWith("READY", StringComparison.Ordinal))
                client._ready.TrySetResult();
        };
        client._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
                lock (client._output)
                    client._output.AppendLine(e.Data);
        };
        client._process.Start();
        client._process.BeginOutputReadLine();
        client._process.BeginErrorReadLine();
        return client;
    }

    public Task WaitReadyAsync(TimeSpan timeout) => _ready.Task.WaitAsync(timeout);

    /// <summary>Closes its stdin (it stops with --stop-on-stdin-close 1) and waits; kills it if it does not stop.</summary>
    public string Stop()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
        return Output;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}
