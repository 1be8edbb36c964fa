using System.Collections;
using System.Reflection;
using MySql.Data.MySqlClient;

namespace PoolCluster.Storage;

/// <summary>
/// Teaches MySql.Data 8.0.16 the character set name "utf8mb3". MariaDB 10.6+ and MySQL 8.0.30+ report the 3-byte
/// UTF-8 charset (id 33, used by information_schema and by tables declared "utf8") under that name, which this driver
/// version does not know: reading such a column throws KeyNotFoundException halfway through the result and leaves the
/// pooled connection desynchronised, so later queries on it fail with nonsense. The fix maps "utf8mb3" to the
/// driver's own "utf8" entry (same encoding, 3 bytes a character). Applied automatically by the storage types
/// (<see cref="MySqlOptions"/>, <see cref="MySqlConnectionFactory"/>, the migrator); code that builds MySqlConnections
/// without touching them calls <see cref="Apply"/> once first. A driver that knows utf8mb3 is left alone.
/// </summary>
public static class MySqlDriverCompatibility
{
    private static readonly Lazy<bool> Applied = new(ApplyOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Idempotent and thread-safe; returns true when the driver now understands utf8mb3.</summary>
    public static bool Apply() => Applied.Value;

    private static bool ApplyOnce()
    {
        var charSetMap = typeof(MySqlConnection).Assembly.GetType("MySql.Data.MySqlClient.CharSetMap");
        if (charSetMap == null)
            return false;
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(charSetMap.TypeHandle);
        if (charSetMap.GetField("_mapping", BindingFlags.NonPublic | BindingFlags.Static)?.GetValue(null) is not IDictionary mapping)
            return false;
        var gate = charSetMap.GetField("LockObject", BindingFlags.NonPublic | BindingFlags.Static)?.GetValue(null) ?? mapping;
        lock (gate)
        {
            if (!mapping.Contains("utf8mb3") && mapping.Contains("utf8"))
                mapping["utf8mb3"] = mapping["utf8"];
            return mapping.Contains("utf8mb3");
        }
    }
}
