using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace PoolCluster.Hosting.Tests;

public sealed class ValidatedOptionsTests : IDisposable
{
    private readonly TempDirectory _baseDirectory = new();

    public void Dispose() => _baseDirectory.Dispose();

    [Fact]
    public void ValidSettings_Bind_NestedObjectsListsDictionariesAndKeyNamesIncluded()
    {
        var options = Bind<StratumOptions>("Stratum",
            "--Stratum:Host=0.0.0.0", "--Stratum:Port=3334", "--Stratum:Network=regtest", "--Stratum:JobInterval=00:00:20",
            "--Stratum:Limits:MaxConnections=500", "--Stratum:Listeners:0:Port=4000", "--Stratum:Listeners:1:Port=4001",
            "--Stratum:Named:eu:Port=5000", "--Stratum:min_difficulty=16", "--Stratum:Tags:0=a", "--Stratum:Tags:1=b");

        Assert.Equal("0.0.0.0", options.Host);
        Assert.Equal(3334, options.Port);
        Assert.Equal(Network.Regtest, options.Network);
        Assert.Equal(TimeSpan.FromSeconds(20), options.JobInterval);
        Assert.Equal(500, options.Limits.MaxConnections);
        Assert.Equal([4000, 4001], options.Listeners.Select(l => l.Port));
        Assert.Equal(5000, options.Named["eu"].Port);
        Assert.Equal(16, options.MinDifficulty);
        Assert.Equal(["a", "b"], options.Tags);
    }

    [Fact]
    public void AValueOutOfRange_NamesTheFullKeyAndTheValue()
    {
        var error = Fail<StratumOptions>("Stratum", "--Stratum:Host=h", "--Stratum:Port=70000");
        Assert.Equal(["Stratum:Port: The field Port must be between 1 and 65535 (was '70000')"], error.Failures);
    }

    [Fact]
    public void ARequiredSettingNotSet_SaysSo()
    {
        var error = Fail<StratumOptions>("Stratum");
        Assert.Equal(["Stratum:Host: The Host field is required (not set)"], error.Failures);
    }

    [Fact]
    public void UnknownKeys_AreRefusedWithTheirFullKey_AlongWithOtherFailures()
    {
        var error = Fail<StratumOptions>("Stratum",
            "--Stratum:Host=h", "--Stratum:Prot=1", "--Stratum:Limits:MaxConections=5", "--Stratum:Listeners:0:Prt=1",
            "--Stratum:Port:Extra=1", "--Stratum:Tags:first=x", "--Stratum:Limits:MaxConnections=0");

        Assert.Equal(6, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Prot: unknown key: StratumOptions has no setting 'Prot' (known: Host, JobInterval, Limits, Listeners, MaxDifficulty, min_difficulty, Named, Network, Port, Tags)", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Limits:MaxConections: unknown key: LimitsOptions has no setting 'MaxConections'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Listeners:0:Prt: unknown key: ListenerOptions", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Port:Extra: unknown key: Stratum:Port is a single value", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Tags:first: unknown key: Stratum:Tags is a list", StringComparison.Ordinal));
        Assert.Contains("Stratum:Limits:MaxConnections: The field MaxConnections must be between 1 and 100000 (was '0')", error.Failures);
        Assert.All(error.Failures.Where(f => f.Contains("unknown key")), f =>
            Assert.Contains("unknown keys are refused", f));
    }

    [Fact]
    public void KeysAreMatchedCaseInsensitively_AsTheBinderDoes()
    {
        var options = Bind<StratumOptions>("Stratum", "--stratum:HOST=h", "--Stratum:port=1", "--Stratum:MIN_DIFFICULTY=2");
        Assert.Equal(1, options.Port);
        Assert.Equal(2, options.MinDifficulty);
    }

    [Fact]
    public void ValuesThatDoNotConvert_AreAllReportedBeforeBinding()
    {
        var error = Fail<StratumOptions>("Stratum",
            "--Stratum:Host=h", "--Stratum:Port=abc", "--Stratum:Network=signet", "--Stratum:JobInterval=soon", "--Stratum:Prot=1");

        Assert.Contains("Stratum:Port: 'abc' is not a whole number (Int32)", error.Failures);
        Assert.Contains("Stratum:Network: 'signet' is not one of Mainnet, Testnet, Regtest", error.Failures);
        Assert.Contains("Stratum:JobInterval: 'soon' is not a time span (e.g. 00:00:30)", error.Failures);
        Assert.Contains(error.Failures, f => f.StartsWith("Stratum:Prot: unknown key", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidatableObjectRules_RunAndNameTheirKeys()
    {
        var error = Fail<StratumOptions>("Stratum", "--Stratum:Host=h", "--Stratum:min_difficulty=5000000", "--Stratum:MaxDifficulty=1000");
        Assert.Equal(
            ["Stratum:min_difficulty: must not be above MaxDifficulty (was '5000000')", "Stratum: min and max difficulty are inverted"],
            error.Failures);
    }

    [Fact]
    public void NestedObjectsListEntriesAndDictionaryEntries_AreValidated()
    {
        var error = Fail<StratumOptions>("Stratum",
            "--Stratum:Host=h", "--Stratum:Listeners:0:Port=4000", "--Stratum:Listeners:1:Port=0", "--Stratum:Named:eu:Port=99999");
        Assert.Equal(
            ["Stratum:Listeners:1:Port: The field Port must be between 1 and 65535 (was '0')",
             "Stratum:Named:eu:Port: The field Port must be between 1 and 65535 (was '99999')"],
            error.Failures);
    }

    [Fact]
    public void ANestedSectionPath_Works()
    {
        var options = Bind<ListenerOptions>("Kafka:Producer", "--Kafka:Producer:Port=9092", "--Kafka:Consumer:Whatever=1");
        Assert.Equal(9092, options.Port);

        var error = Fail<ListenerOptions>("Kafka:Producer", "--Kafka:Producer:Port=0");
        Assert.Equal(["Kafka:Producer:Port: The field Port must be between 1 and 65535 (was '0')"], error.Failures);
    }

    [Fact]
    public void FurtherRules_ChainOnTheReturnedBuilder()
    {
        var builder = PoolHost.CreateBuilder("test", ["--Stratum:Port=1"], _baseDirectory.Path);
        builder.AddValidatedOptions<ListenerOptions>("Stratum").Validate(o => o.Port > 1024, "Stratum:Port: must be above 1024");
        using var host = builder.Build();
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IStartupValidator>().Validate());
        Assert.Equal(["Stratum:Port: must be above 1024"], error.Failures);
    }

    [Fact]
    public async Task RunAsync_ReportsBadConfigurationOnOneLineWithExitCode2_BeforeAnythingStarts()
    {
        var errors = new StringWriter();
        var started = false;
        var exitCode = await PoolHost.RunAsync("sserver", ["--Stratum:Port=70000", "--Stratum:Prot=1"], builder =>
        {
            builder.AddValidatedOptions<StratumOptions>("Stratum");
            builder.Services.AddHostedService(_ => new ObservedService(() => started = true));
        }, _baseDirectory.Path, errors);

        Assert.Equal(PoolHost.ExitConfigurationError, exitCode);
        Assert.False(started);
        var line = Assert.Single(errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("sserver: configuration error: ", line);
        Assert.Contains("Stratum:Port: The field Port must be between 1 and 65535 (was '70000')", line);
        Assert.Contains("Stratum:Host: The Host field is required (not set)", line);
        Assert.Contains("Stratum:Prot: unknown key", line);
    }

    [Fact]
    public async Task RunAsync_ReportsAnUnreadableConfigurationWithExitCode2()
    {
        var errors = new StringWriter();
        var exitCode = await PoolHost.RunAsync("sserver", ["--config", "/nonexistent/sserver.json"], _ => { }, _baseDirectory.Path, errors);

        Assert.Equal(PoolHost.ExitConfigurationError, exitCode);
        Assert.Equal("sserver: configuration error: config file /nonexistent/sserver.json (from --config or POOL_CONFIG) does not exist",
            errors.ToString().TrimEnd());
    }

    [Fact]
    public async Task RunAsync_ReportsOtherFailuresBeforeStartWithExitCode1()
    {
        var errors = new StringWriter();
        var exitCode = await PoolHost.RunAsync("sserver", [], _ => throw new InvalidOperationException("wiring broke\nbadly"),
            _baseDirectory.Path, errors);

        Assert.Equal(PoolHost.ExitFatal, exitCode);
        Assert.Equal("sserver: fatal: InvalidOperationException: wiring broke badly", errors.ToString().TrimEnd());
    }

    private TOptions Bind<TOptions>(string section, params string[] args) where TOptions : class
    {
        using var host = Build<TOptions>(section, args);
        host.Services.GetRequiredService<IStartupValidator>().Validate();
        return host.Services.GetRequiredService<IOptions<TOptions>>().Value;
    }

    private OptionsValidationException Fail<TOptions>(string section, params string[] args) where TOptions : class
    {
        using var host = Build<TOptions>(section, args);
        // What the host does first on start (ValidateOnStart).
        return Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IStartupValidator>().Validate());
    }

    private IHost Build<TOptions>(string section, string[] args) where TOptions : class
    {
        var builder = PoolHost.CreateBuilder("test", args, _baseDirectory.Path);
        builder.AddValidatedOptions<TOptions>(section);
        return builder.Build();
    }

    private sealed class ObservedService(Action onStart) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            onStart();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

public enum Network
{
    Mainnet,
    Testnet,
    Regtest,
}

public sealed class StratumOptions : IValidatableObject
{
    [Required]
    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 3333;

    public Network Network { get; set; } = Network.Mainnet;

    public TimeSpan JobInterval { get; set; } = TimeSpan.FromSeconds(30);

    public LimitsOptions Limits { get; set; } = new();

    public List<ListenerOptions> Listeners { get; set; } = [];

    public Dictionary<string, ListenerOptions> Named { get; set; } = [];

    public string[] Tags { get; set; } = [];

    [ConfigurationKeyName("min_difficulty")]
    public double MinDifficulty { get; set; } = 1;

    public double MaxDifficulty { get; set; } = 1e6;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MinDifficulty > MaxDifficulty)
        {
            yield return new ValidationResult("must not be above MaxDifficulty", [nameof(MinDifficulty)]);
            yield return new ValidationResult("min and max difficulty are inverted");
        }
    }
}

public sealed class LimitsOptions
{
    [Range(1, 100_000)]
    public int MaxConnections { get; set; } = 10_000;
}

public sealed class ListenerOptions
{
    [Range(1, 65535)]
    public int Port { get; set; } = 3333;
}
