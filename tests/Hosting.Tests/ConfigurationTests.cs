using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace PoolCluster.Hosting.Tests;

/// <summary>
/// Configuration sources and their precedence. Environment variables are process-wide and tests run in parallel,
/// so each test uses a section name of its own; POOL_CONFIG and POOL_ENVIRONMENT are tested at process level.
/// </summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly TempDirectory _baseDirectory = new();
    private readonly string _section = $"Precedence{Guid.NewGuid():N}";
    private readonly List<string> _environmentVariables = [];

    public void Dispose()
    {
        foreach (var name in _environmentVariables)
            Environment.SetEnvironmentVariable(name, null);
        _baseDirectory.Dispose();
    }

    [Fact]
    public void EachSource_OverridesTheOnesBeforeIt()
    {
        // appsettings.json < appsettings.{Environment}.json < --config file < POOL_ environment < command line
        _baseDirectory.Write("appsettings.json", Json(("Json", "json"), ("EnvJson", "json"), ("File", "json"), ("Env", "json"), ("Cli", "json")));
        _baseDirectory.Write("appsettings.Staging.json", Json(("EnvJson", "staging"), ("File", "staging"), ("Env", "staging"), ("Cli", "staging")));
        using var operatorConfig = new TempDirectory();
        var configFile = operatorConfig.Write("sserver.json", Json(("File", "file"), ("Env", "file"), ("Cli", "file")));
        SetEnvironment($"POOL_{_section}__Env", "env");
        SetEnvironment($"POOL_{_section}__Cli", "env");

        var builder = PoolHost.CreateBuilder("test", ["--environment", "Staging", "--config", configFile, $"--{_section}:Cli=cli"], _baseDirectory.Path);

        Assert.Equal("Staging", builder.Environment.EnvironmentName);
        Assert.Equal("json", builder.Configuration[$"{_section}:Json"]);
        Assert.Equal("staging", builder.Configuration[$"{_section}:EnvJson"]);
        Assert.Equal("file", builder.Configuration[$"{_section}:File"]);
        Assert.Equal("env", builder.Configuration[$"{_section}:Env"]);
        Assert.Equal("cli", builder.Configuration[$"{_section}:Cli"]);
    }

    [Fact]
    public void EnvironmentBeatsAppsettings_AndCommandLineBeatsEnvironment_IntoBoundOptions()
    {
        _baseDirectory.Write("appsettings.json", $$"""{ "{{_section}}": { "Host": "from-json", "Port": 1 } }""");
        SetEnvironment($"POOL_{_section}__Host", "from-env");
        SetEnvironment($"POOL_{_section}__Port", "2");

        var builder = PoolHost.CreateBuilder("test", [$"--{_section}:Port=3"], _baseDirectory.Path);
        builder.AddValidatedOptions<EndpointOptions>(_section);
        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;

        Assert.Equal("from-env", options.Host);
        Assert.Equal(3, options.Port);
    }

    [Fact]
    public void WithoutAnyFile_ConfigurationComesFromArgumentsAlone()
    {
        var builder = PoolHost.CreateBuilder("test", [$"--{_section}:Only=yes"], _baseDirectory.Path);

        Assert.Equal("test", builder.Environment.ApplicationName);
        Assert.Equal(_baseDirectory.Path, builder.Environment.ContentRootPath.TrimEnd('/'));
        Assert.Equal("yes", builder.Configuration[$"{_section}:Only"]);
    }

    [Fact]
    public void UnprefixedEnvironmentVariables_AreNotConfiguration()
    {
        SetEnvironment($"{_section}__Leak", "yes");
        var builder = PoolHost.CreateBuilder("test", [], _baseDirectory.Path);
        Assert.Null(builder.Configuration[$"{_section}:Leak"]);
    }

    [Fact]
    public void AMissingConfigFile_IsAnError()
    {
        var missing = Path.Combine(_baseDirectory.Path, "nope.json");
        var error = Assert.Throws<PoolConfigurationException>(() => PoolHost.CreateBuilder("test", ["--config", missing], _baseDirectory.Path));
        Assert.Contains(missing, error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void MalformedJson_IsAnErrorNamingTheFileAndLine()
    {
        var file = _baseDirectory.Write("appsettings.json", "{\n  \"Stratum\": { \"Port\": 3333, }\n  oops\n}");
        var error = Assert.Throws<PoolConfigurationException>(() => PoolHost.CreateBuilder("test", [], _baseDirectory.Path));
        Assert.Contains(file, error.Message);
        Assert.Contains("LineNumber: 2", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void AnUnknownLoggingFormat_IsAnError()
    {
        var error = Assert.Throws<PoolConfigurationException>(() => PoolHost.CreateBuilder("test", ["--Logging:Format=xml"], _baseDirectory.Path));
        Assert.Equal("Logging:Format: must be 'simple' or 'json' (was 'xml')", error.Message);
    }

    [Fact]
    public void ShutdownTimeout_ComesFromHostingSection()
    {
        using (var host = PoolHost.CreateBuilder("test", [], _baseDirectory.Path).Build())
            Assert.Equal(TimeSpan.FromSeconds(30), host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

        using (var host = PoolHost.CreateBuilder("test", ["--Hosting:ShutdownTimeoutSeconds=7"], _baseDirectory.Path).Build())
            Assert.Equal(TimeSpan.FromSeconds(7), host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

        // The host reads HostOptions when it is built, so a bad value already stops Build.
        var error = Assert.Throws<OptionsValidationException>(() =>
            PoolHost.CreateBuilder("test", ["--Hosting:ShutdownTimeoutSeconds=0"], _baseDirectory.Path).Build());
        Assert.Contains("Hosting:ShutdownTimeoutSeconds: The field ShutdownTimeoutSeconds must be between 1 and 3600 (was '0')", error.Failures);
    }

    private void SetEnvironment(string name, string value)
    {
        _environmentVariables.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    private string Json(params (string Key, string Value)[] settings) =>
        $$"""{ "{{_section}}": { {{string.Join(", ", settings.Select(s => $"\"{s.Key}\": \"{s.Value}\""))}} } }""";

    private sealed class EndpointOptions
    {
        public string Host { get; set; } = "";
        public int Port { get; set; }
    }
}
