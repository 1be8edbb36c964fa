using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PoolCluster.DevNode;
using PoolCluster.Hosting;

if (args.Any(arg => arg is "--help" or "-h" or "-?" or "help"))
{
    Console.Out.Write(DevNodeHelp.Text);
    return PoolHost.ExitSuccess;
}

// --ready-file PATH / --ready-file=PATH: not a configuration key, so it is taken off before the host reads the rest.
string? readyFile = null;
var hostArgs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--ready-file" && i + 1 < args.Length)
        readyFile = args[++i];
    else if (args[i].StartsWith("--ready-file=", StringComparison.Ordinal))
        readyFile = args[i]["--ready-file=".Length..];
    else
        hostArgs.Add(args[i]);
}

return await PoolHost.RunAsync("devnode", [.. hostArgs], builder =>
{
    // DevNode's settings sit at the top level (Rpc:Port, DataDir, Zmq:HashBlock, ...), like bitcoind's flat options.
    builder.AddValidatedOptions<RpcOptions>("Rpc");
    builder.AddValidatedOptions<ZmqOptions>("Zmq");
    builder.AddValidatedOptions<MempoolOptions>("Mempool");
    builder.AddValidatedOptions<SeedTipOptions>("SeedTip");
    builder.Services.AddOptions<DevNodeOptions>()
        .Configure(options => DevNodeConfiguration.BindTopLevel(builder.Configuration, options))
        .ValidateDataAnnotations()
        .Validate(options => !string.IsNullOrWhiteSpace(options.DataDir), "DataDir: must not be empty")
        .ValidateOnStart();
    builder.Services.AddSingleton(new DevNodeCommandLine(readyFile));
    builder.Services.AddHostedService<DevNodeHostedService>();
});
