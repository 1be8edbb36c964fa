using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace PoolCluster.DevNode;

/// <summary>
/// Binds DevNode's top-level settings (DataDir, PersistChain, ForeignBlockIntervalSeconds, ...), which sit beside
/// the sections (Rpc, Zmq, Mempool, SeedTip) the way bitcoind's options are flat. A top-level key DevNode does not
/// know, or a value that does not convert, is a configuration error naming the key, like the sections' own checks.
/// </summary>
public static class DevNodeConfiguration
{
    /// <summary>Top-level keys that belong to the host rather than to DevNode.</summary>
    private static readonly string[] HostKeys = ["Logging", "Hosting", "config", "environment", "applicationName", "contentRoot"];

    public static void BindTopLevel(IConfiguration configuration, DevNodeOptions options)
    {
        var properties = typeof(DevNodeOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var failures = new List<string>();
        foreach (var child in configuration.GetChildren())
        {
            if (HostKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                continue;
            if (!properties.TryGetValue(child.Key, out var property))
            {
                failures.Add($"{child.Key}: unknown key (DevNode's settings: {string.Join(", ", properties.Keys)})");
                continue;
            }
            if (IsSection(property.PropertyType))
                continue; // bound and checked as its own section
            if (child.Value is null)
            {
                failures.Add($"{child.Key}: is a single value, it has no settings below it");
                continue;
            }
            try
            {
                var converter = TypeDescriptor.GetConverter(property.PropertyType);
                property.SetValue(options, converter.ConvertFromString(null, CultureInfo.InvariantCulture, child.Value));
            }
            catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException or OverflowException
                || e.InnerException is FormatException or OverflowException)
            {
                failures.Add($"{child.Key}: '{child.Value}' is not a valid {property.PropertyType.Name}");
            }
        }
        if (failures.Count > 0)
            throw new OptionsValidationException(Options.DefaultName, typeof(DevNodeOptions), failures);
    }

    private static bool IsSection(Type type) => type.IsClass && type != typeof(string);
}
