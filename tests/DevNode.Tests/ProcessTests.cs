using System.Diagnostics;
using System.Text.Json;
using PoolCluster.Node;

namespace PoolCluster.DevNode.Tests;

/// <summary>DevNode as its own process, the way scripts and the local cluster run it.</summary>
public sealed class ProcessTests
{
    private static string DevNodeDll => Path.Combine(AppContext.BaseDirectory, "PoolCluster.DevNode.dll");

    private static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(DevNodeDll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }

    [Fact]
    public async Task Help_says_what_it_is_not()
    {
        using var process = Start("--help");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("no P2P networking, no UTXO set", output);
        Assert.Contains("--ready-file", output);
    }

    [Fact]
    public async Task Started_as_a_process_it_writes_the_ready_file_serves_rpc_and_stops_on_the_stop_rpc()
    {
        var dataDir = TestNode.NewDataDir();
        var readyFile = Path.Combine(dataDir, "ready.json");
        using var process = Start(
            "--ready-file", readyFile,
            "--Rpc:Port=0", "--Rpc:User=proc", "--Rpc:Password=pw",
            $"--DataDir={dataDir}",
            "--Zmq:HashBlock=tcp://127.0.0.1:*", "--Zmq:RawBlock=", "--Zmq:HashTx=",
            "--Mempool:TxPerSecond=20");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!File.Exists(readyFile) && !process.HasExited && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.True(File.Exists(readyFile), $"no ready file; output:\n{output}");

            using var ready = JsonDocument.Parse(await File.ReadAllTextAsync(readyFile));
            var root = ready.RootElement;
            var rpcUrl = root.GetProperty("rpcUrl").GetString()!;
            Assert.Matches(@"^http://127\.0\.0\.1:\d+/$", rpcUrl);
            Assert.Equal(new Uri(rpcUrl).Port, root.GetProperty("rpcPort").GetInt32());
            Assert.Equal("proc", root.GetProperty("rpcUser").GetString());
            Assert.Equal(Path.Combine(dataDir, "regtest", ".cookie"), root.GetProperty("cookieFile").GetString());
            Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", root.GetProperty("zmqHashBlock").GetString());
            Assert.Equal(JsonValueKind.Null, root.GetProperty("zmqRawBlock").ValueKind);
            Assert.Equal(process.Id, root.GetProperty("pid").GetInt32());
            Assert.Equal("regtest", root.GetProperty("chain").GetString());

            using var client = new BitcoindRpcClient(new NodeEndpoint { Name = "proc", RpcUrl = rpcUrl, RpcUser = "proc", RpcPassword = "pw" });
            Assert.Equal(0, await client.GetBlockCountAsync());
            var hashes = await client.CallAsync("generatetoaddress", [2, TestNode.PayoutAddress]);
            Assert.Equal(2, await client.GetBlockCountAsync());
            Assert.Equal(hashes[1].GetString(), await client.GetBestBlockHashAsync());
            using (var cookieClient = new BitcoindRpcClient(new NodeEndpoint { Name = "cookie", RpcUrl = rpcUrl, CookieFile = root.GetProperty("cookieFile").GetString() }))
                Assert.Equal(2, await cookieClient.GetBlockCountAsync());

            Assert.Equal("DevNode stopping", (await client.CallAsync("stop")).GetString());
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; output:\n{output}");
            Assert.False(File.Exists(root.GetProperty("cookieFile").GetString()), "cookie left behind");
            Assert.False(File.Exists(readyFile), "ready file left behind");
            lock (output)
                Assert.Contains("ready", output.ToString());
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            TestNode.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public async Task A_bad_setting_exits_with_the_configuration_error_code()
    {
        using var process = Start("--Rpc:Port=70000", "--Rpc:Prot=1");
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("Rpc:Port", error);
        Assert.Contains("Rpc:Prot", error);
    }

    [Fact]
    public async Task A_misspelled_or_unconvertible_top_level_setting_is_a_configuration_error()
    {
        using var process = Start("--ForeignBlockIntervalSecond=3", "--LongPollMempoolSeconds=soon");
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("ForeignBlockIntervalSecond: unknown key", error);
        Assert.Contains("LongPollMempoolSeconds: 'soon' is not a valid Double", error);
    }
}
