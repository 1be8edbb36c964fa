using System.Collections;
using System.Reflection;
using System.Text.Json;
using PoolCluster.Testing;

namespace PoolCluster.ShareLogger.Tests;

public sealed class ConfigurationTests
{
    private static readonly string AppSettings = Path.Combine(TestPaths.RepoRoot, "services", "ShareLogger", "appsettings.json");

    /// <summary>Every option is in appsettings.json, with the value the code uses when the key is absent.</summary>
    [Fact]
    public void Appsettings_lists_every_ShareLogger_key_with_its_default()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(AppSettings));
        AssertSection(document.RootElement.GetProperty(ShareLoggerOptions.SectionName), new ShareLoggerOptions(), ShareLoggerOptions.SectionName);
    }

    internal static void AssertSection(JsonElement section, object defaults, string path)
    {
        foreach (var property in defaults.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = $"{path}:{property.Name}";
            Assert.True(section.TryGetProperty(property.Name, out var value), $"{key} is missing from appsettings.json");
            var expected = property.GetValue(defaults);
            if (expected != null && property.PropertyType.IsClass && property.PropertyType != typeof(string) && expected is not IEnumerable)
            {
                AssertSection(value, expected, key);
                continue;
            }
            var actual = value.ValueKind switch
            {
                JsonValueKind.String when property.PropertyType.IsEnum => Enum.Parse(property.PropertyType, value.GetString()!),
                JsonValueKind.String => value.GetString(),
                JsonValueKind.True or JsonValueKind.False => value.GetBoolean(),
                JsonValueKind.Number => Convert.ChangeType(value.GetDouble(), Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType,
                    System.Globalization.CultureInfo.InvariantCulture),
                JsonValueKind.Null => null,
                _ => (object)value.GetRawText(),
            };
            Assert.True(Equals(expected, actual), $"{key} is {actual} in appsettings.json but {expected} in code");
        }
        var known = defaults.GetType().GetProperties().Select(p => p.Name).ToHashSet();
        foreach (var property in section.EnumerateObject())
            Assert.True(known.Contains(property.Name), $"{path}:{property.Name} in appsettings.json is not an option");
    }

    [Fact]
    public void Bad_settings_stop_the_process_at_start_with_exit_code_2_naming_each_key()
    {
        var kafka = new Kafka.KafkaOptions { BootstrapServers = "127.0.0.1:1" };
        var mysql = new Storage.MySqlOptions { Host = "127.0.0.1", Port = 1, User = "x", Password = "y", Database = "z" };
        using var outOfRange = ShareLoggerProcess.Start(kafka, mysql, "g", "--ShareLogger:BatchRows=0", "--ShareLogger:Partitions:DaysAhead=0");
        using var unknownMethod = ShareLoggerProcess.Start(kafka, mysql, "g", "--ShareLogger:WriteMethod=Carrier-Pigeon");
        foreach (var process in new[] { outOfRange, unknownMethod })
        {
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "the process did not exit");
            Assert.Equal(2, process.ExitCode);
        }
        Assert.Contains("ShareLogger:BatchRows", outOfRange.Output);
        Assert.Contains("ShareLogger:Partitions:DaysAhead", outOfRange.Output);
        Assert.Contains("ShareLogger:WriteMethod: 'Carrier-Pigeon' is not one of LoadData, Insert", unknownMethod.Output);
    }
}
