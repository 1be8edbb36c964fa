using System.Collections;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using PoolCluster.Kafka;
using PoolCluster.Node;
using PoolCluster.Testing;

namespace PoolCluster.BlkMaker.Tests;

public sealed class ConfigurationTests
{
    private static readonly string AppSettings = Path.Combine(TestPaths.RepoRoot, "services", "BlkMaker", "appsettings.json");

    /// <summary>Every option is in appsettings.json with the value the code uses when the key is absent.</summary>
    [Fact]
    public void Appsettings_lists_every_BlkMaker_key_with_its_default()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(AppSettings));
        var section = document.RootElement.GetProperty(BlkMakerOptions.SectionName);
        AssertSection(section, new BlkMakerOptions(), BlkMakerOptions.SectionName, skip: [nameof(BlkMakerOptions.Nodes)]);
        // The node list is an example; every NodeEndpoint key is in it, with its defaults where it has them.
        var node = section.GetProperty("Nodes")[0];
        AssertSection(node, new NodeEndpoint { Name = node.GetProperty("Name").GetString()!, RpcUrl = node.GetProperty("RpcUrl").GetString()!,
            RpcUser = "", RpcPassword = "", CookieFile = "", ZmqHashBlock = "" }, "BlkMaker:Nodes:0", skip: []);
    }

    private static void AssertSection(JsonElement section, object defaults, string path, string[] skip)
    {
        foreach (var property in defaults.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = $"{path}:{property.Name}";
            Assert.True(section.TryGetProperty(property.Name, out var value), $"{key} is missing from appsettings.json");
            if (skip.Contains(property.Name))
                continue;
            var expected = property.GetValue(defaults);
            var actual = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.True or JsonValueKind.False => value.GetBoolean(),
                JsonValueKind.Number => Convert.ChangeType(value.GetDouble(), property.PropertyType, System.Globalization.CultureInfo.InvariantCulture),
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
    public async Task The_process_refuses_a_bad_node_and_a_bad_value_with_exit_code_2_naming_them()
    {
        var dll = EmbeddedKafkaProcess.FindBuiltAssembly("services/BlkMaker", "PoolCluster.BlkMaker");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { dll, "--BlkMaker:Nodes:0:RpcUrl=ftp://node", "--BlkMaker:HotTemplates=0", "--MySql:Host=127.0.0.1",
                     "--MySql:User=u", "--MySql:Database=d" })
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await output;
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("BlkMaker:HotTemplates", error);
        Assert.Contains("RpcUrl must be an http(s) URL", error);
    }
}
