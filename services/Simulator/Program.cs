using System.Runtime.InteropServices;
using PoolCluster.Simulator;

// Ctrl-C and SIGTERM end the run gracefully: submitting stops, answers in flight are awaited, the report is written.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
return await SimulatorCommand.RunAsync(args, Console.Out, Console.Error, stop.Token);
