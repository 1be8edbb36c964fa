using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PoolCluster.StatsHttpd.Http;

/// <summary>
/// The HTTP API on Kestrel (ASP.NET Core minimal API), started as a hosted service of the StatsHttpd host. It serves
/// from the first moment; while the history is replayed the answers say so (warming up).
/// </summary>
internal sealed class StatsHttpServer(StatsApiContext api, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable, IDisposable
{
    private readonly ILogger logger = loggerFactory.CreateLogger<StatsHttpServer>();
    private WebApplication? web;

    /// <summary>The address Kestrel bound (the real port when the configured one is 0).</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var url = new Uri(api.Options.Url);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "PoolCluster.StatsHttpd" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024;
            if (url.Host is "localhost")
                kestrel.ListenLocalhost(url.Port);
            else if (url.Host is "*" or "+" || url.Host == IPAddress.Any.ToString())
                kestrel.ListenAnyIP(url.Port);
            else
                kestrel.Listen(IPAddress.Parse(url.Host.Trim('[', ']')), url.Port);
        });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.Use(CatchUnexpected);
        app.UseRouting();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        web = app;
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(bound);
        logger.LogInformation("StatsHttpd API listening on {Address}", Address);
    }

    private void Map(WebApplication app)
    {
        string[] get = [HttpMethods.Get, HttpMethods.Head];
        string[] getPost = [HttpMethods.Get, HttpMethods.Head, HttpMethods.Post];
        app.MapMethods("/", get, (HttpContext context) => BtcpoolApi.ServerStatusAsync(context, api));
        // Routing ignores a trailing slash, so this also serves btcpool's "/worker_status/".
        app.MapMethods("/worker_status", getPost, (HttpContext context) => BtcpoolApi.WorkerStatusAsync(context, api));
        app.MapMethods("/flush_db_time", get, (HttpContext context) => BtcpoolApi.FlushDbTimeAsync(context, api));
        app.MapMethods("/api/v1/status", get, (HttpContext context) => RestApi.StatusAsync(context, api));
        app.MapMethods("/api/v1/pool", get, (HttpContext context) => RestApi.PoolAsync(context, api));
        app.MapMethods("/api/v1/users", get, (HttpContext context) => RestApi.UsersAsync(context, api));
        app.MapMethods("/api/v1/users/{userId}", get, (HttpContext context) => RestApi.UserAsync(context, api));
        app.MapMethods("/api/v1/users/{userId}/workers", get, (HttpContext context) => RestApi.WorkersAsync(context, api));
        app.MapMethods("/api/v1/users/{userId}/workers/{workerId}", get, (HttpContext context) => RestApi.WorkerAsync(context, api));
        app.MapMethods("/api/v1/blocks", get, (HttpContext context) => RestApi.BlocksAsync(context, api));
    }

    /// <summary>
    /// Input never causes a 500 (every parameter is validated); this is the backstop for a bug, logged with its stack,
    /// answered with a JSON body rather than an empty one.
    /// </summary>
    private async Task CatchUnexpected(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            logger.LogError(e, "Unhandled error serving {Method} {Path}", context.Request.Method, context.Request.Path);
            if (!context.Response.HasStarted)
                await JsonResponse.ErrorAsync(context, StatusCodes.Status500InternalServerError, "internal error: " + e.Message).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (web != null)
            await web.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        var app = Interlocked.Exchange(ref web, null);
        if (app != null)
            await app.DisposeAsync().ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
