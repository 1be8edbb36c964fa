using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace PoolCluster.Hosting;

/// <summary>
/// The common shape of every PoolCluster service process.
/// <code>
/// return await PoolHost.RunAsync("sserver", args, builder =>
/// {
///     builder.AddValidatedOptions&lt;StratumOptions&gt;("Stratum");
///     builder.Services.AddHostedService&lt;StratumServer&gt;();
/// });
/// </code>
/// </summary>
public static class PoolHost
{
    /// <summary>Environment variables with this prefix are configuration: POOL_Kafka__BootstrapServers = Kafka:BootstrapServers.</summary>
    public const string EnvironmentPrefix = "POOL_";

    public const int ExitSuccess = 0;

    /// <summary>A fatal error at start or while running (other than configuration).</summary>
    public const int ExitFatal = 1;

    /// <summary>The configuration is invalid: a bad value, an unknown key, an unreadable config file.</summary>
    public const int ExitConfigurationError = 2;

    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";

    /// <summary>
    /// A host builder with PoolCluster's conventions. Configuration, later sources winning:
    /// appsettings.json and appsettings.{Environment}.json from the application's base directory; the JSON file named
    /// by <c>--config PATH</c> or POOL_CONFIG (must exist); POOL_-prefixed environment variables; the command line
    /// (<c>--Kafka:BootstrapServers=host:9092</c>). The environment (default Production) comes from
    /// <c>--environment</c>, POOL_ENVIRONMENT or DOTNET_ENVIRONMENT.
    /// Logging: one line per entry on the console, UTC timestamps, scopes, the service name as the outermost scope;
    /// <c>Logging:Format=json</c> for JSON lines; levels from the usual <c>Logging:LogLevel</c> section.
    /// Stopping (SIGTERM, SIGINT) waits up to <c>Hosting:ShutdownTimeoutSeconds</c> (default 30) for hosted services.
    /// Throws <see cref="PoolConfigurationException"/> when the configuration cannot be read.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string serviceName, string[] args) =>
        CreateBuilder(serviceName, args, AppContext.BaseDirectory);

    /// <summary>As <see cref="CreateBuilder(string, string[])"/>, reading appsettings from <paramref name="baseDirectory"/>.</summary>
    internal static HostApplicationBuilder CreateBuilder(string serviceName, string[] args, string baseDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(args);

        // Where the configuration comes from is itself configurable (environment name, extra file): read those two
        // settings from the sources that may carry them before the real configuration is assembled.
        var bootstrap = ReadConfiguration("the command line or environment", () => new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables(EnvironmentPrefix)
            .AddCommandLine(args)
            .Build());
        var environmentName = bootstrap["environment"] is { Length: > 0 } named ? named : Environments.Production;
        var configFile = bootstrap["config"];

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            Args = args,
            ApplicationName = serviceName,
            EnvironmentName = environmentName,
            ContentRootPath = baseDirectory,
        });
        var configuration = builder.Configuration;
        AddJsonFile(configuration, Path.Combine(baseDirectory, "appsettings.json"), optional: true);
        AddJsonFile(configuration, Path.Combine(baseDirectory, $"appsettings.{environmentName}.json"), optional: true);
        if (!string.IsNullOrWhiteSpace(configFile))
        {
            var path = Path.GetFullPath(configFile);
            if (!File.Exists(path))
                throw new PoolConfigurationException($"config file {path} (from --config or POOL_CONFIG) does not exist");
            AddJsonFile(configuration, path, optional: false);
        }
        ReadConfiguration("POOL_ environment variables", () => configuration.AddEnvironmentVariables(EnvironmentPrefix));
        ReadConfiguration("the command line", () => configuration.AddCommandLine(args));

        ConfigureLogging(builder, serviceName);

        builder.AddValidatedOptions<PoolHostOptions>(PoolHostOptions.SectionName);
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<PoolHostOptions>>((host, pool) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(pool.Value.ShutdownTimeoutSeconds));
        return builder;
    }

    /// <summary>
    /// Creates the builder, lets <paramref name="configure"/> add the service's options and hosted services, runs the
    /// host until it is stopped (SIGTERM, SIGINT) and returns the process exit code: 0 after a graceful stop;
    /// 2 (<see cref="ExitConfigurationError"/>) when the configuration is invalid, reported as one line on stderr with
    /// every failing key, before anything has started; 1 (<see cref="ExitFatal"/>) for any other failure to start,
    /// or when a background service crashed (which stops the host).
    /// </summary>
    public static Task<int> RunAsync(string serviceName, string[] args, Action<HostApplicationBuilder> configure) =>
        RunAsync(serviceName, args, configure, AppContext.BaseDirectory, Console.Error);

    internal static async Task<int> RunAsync(
        string serviceName, string[] args, Action<HostApplicationBuilder> configure, string baseDirectory, TextWriter errorOutput)
    {
        ArgumentNullException.ThrowIfNull(configure);
        IHost? host = null;
        int exitCode;
        string? errorLine = null;
        try
        {
            var builder = CreateBuilder(serviceName, args, baseDirectory);
            configure(builder);
            host = builder.Build();
            // Validate before StartAsync: the host would log a failure there with a stack trace; a configuration
            // mistake deserves a plain sentence.
            host.Services.GetService<IStartupValidator>()?.Validate();
            await host.StartAsync();
            await host.WaitForShutdownAsync();
            var crashed = host.Services.GetServices<IHostedService>().OfType<BackgroundService>()
                .FirstOrDefault(s => s.ExecuteTask is { IsFaulted: true });
            exitCode = ExitSuccess;
            if (crashed != null)
            {
                exitCode = ExitFatal;
                errorLine = $"{serviceName}: fatal: {crashed.GetType().Name} failed: {OneLine(crashed.ExecuteTask!.Exception!.InnerException!)}";
            }
        }
        catch (Exception e) when (ConfigurationFailures(e) is { } failures)
        {
            exitCode = ExitConfigurationError;
            errorLine = $"{serviceName}: configuration error: {string.Join("; ", failures)}";
        }
        catch (Exception e)
        {
            exitCode = ExitFatal;
            errorLine = $"{serviceName}: fatal: {OneLine(e)}";
        }
        finally
        {
            // Disposing flushes the console logger, so the error line below is the last thing written.
            if (host is IAsyncDisposable asyncDisposable)
                await asyncDisposable.DisposeAsync();
            else
                host?.Dispose();
        }
        if (errorLine != null)
            await errorOutput.WriteLineAsync(errorLine);
        return exitCode;
    }

    /// <summary>The failure lines when <paramref name="exception"/> is (only) about configuration; otherwise null.</summary>
    internal static IReadOnlyList<string>? ConfigurationFailures(Exception exception)
    {
        switch (exception)
        {
            case OptionsValidationException invalid:
                return invalid.Failures.Select(Flatten).ToList();
            case PoolConfigurationException configuration:
                return [Flatten(configuration.Message)];
            case AggregateException aggregate:
                var all = new List<string>();
                foreach (var inner in aggregate.Flatten().InnerExceptions)
                {
                    if (ConfigurationFailures(inner) is not { } failures)
                        return null;
                    all.AddRange(failures);
                }
                return all.Count > 0 ? all : null;
            default:
                return null;
        }
    }

    private static void ConfigureLogging(HostApplicationBuilder builder, string serviceName)
    {
        var format = builder.Configuration["Logging:Format"];
        var json = format?.ToLowerInvariant() switch
        {
            null or "" or "simple" => false,
            "json" => true,
            _ => throw new PoolConfigurationException($"Logging:Format: must be 'simple' or 'json' (was '{format}')"),
        };

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = TimestampFormat;
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = TimestampFormat.TrimEnd();
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o =>
            o.FormatterName = json ? ConsoleFormatterNames.Json : ConsoleFormatterNames.Simple);
        // LoggerFactory takes its scope provider from the container when there is one.
        builder.Services.AddSingleton<IExternalScopeProvider>(new ServiceNameScopeProvider(serviceName));
    }

    private static void AddJsonFile(IConfigurationBuilder configuration, string path, bool optional) =>
        ReadConfiguration($"config file {path}", () => configuration.AddJsonFile(path, optional, reloadOnChange: false));

    private static T ReadConfiguration<T>(string source, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            // The useful detail (which line of the JSON, which switch) is in the innermost exception.
            var reasons = new List<string>();
            for (Exception? cause = e; cause != null; cause = cause.InnerException)
                reasons.Add(cause.Message);
            throw new PoolConfigurationException($"{source} cannot be read: {Flatten(string.Join(" ", reasons))}", e);
        }
    }

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {Flatten(e.Message)}";

    private static string Flatten(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
