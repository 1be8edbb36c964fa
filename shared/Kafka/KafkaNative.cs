using System.Reflection;
using System.Runtime.InteropServices;

namespace PoolCluster.Kafka;

/// <summary>
/// Loads librdkafka for Confluent.Kafka and for our own P/Invokes (the embedded mock cluster).
/// Confluent.Kafka imports the native name <c>librdkafka</c>, which the runtime would look for as <c>librdkafka.so</c>
/// (only in the -dev package); Debian's librdkafka1 ships <c>librdkafka.so.1</c>, so the name is mapped here.
/// Every entry point of this library calls <see cref="EnsureInitialized"/>: callers never have to.
/// </summary>
public static class KafkaNative
{
    /// <summary>The file Debian's librdkafka1 package installs (found through the loader's normal search path).</summary>
    public const string DebianLibraryFile = "librdkafka.so.1";

    /// <summary>The Debian package that provides <see cref="DebianLibraryFile"/>.</summary>
    public const string DebianPackage = "librdkafka1";

    /// <summary>The name our own [LibraryImport]s use; resolved to the same handle as Confluent.Kafka's.</summary>
    internal const string ImportName = "librdkafka";

    private static readonly object Gate = new();
    private static volatile bool initialized;
    private static nint libraryHandle;

    /// <summary>
    /// Loads librdkafka.so.1 and installs the import resolvers (once; later calls return at once; thread-safe).
    /// Throws <see cref="DllNotFoundException"/> naming the Debian package when the library is missing.
    /// </summary>
    public static void EnsureInitialized()
    {
        if (initialized)
            return;
        lock (Gate)
        {
            if (initialized)
                return;
            libraryHandle = LoadLibrary(DebianLibraryFile);
            InstallResolver(typeof(Confluent.Kafka.Library).Assembly);
            InstallResolver(typeof(KafkaNative).Assembly);
            initialized = true;
        }
    }

    /// <summary>The loaded librdkafka's version string (e.g. "2.0.2").</summary>
    public static string LibrdkafkaVersion
    {
        get
        {
            EnsureInitialized();
            return Confluent.Kafka.Library.VersionString;
        }
    }

    /// <summary>
    /// Loads a native library by file name, or throws a <see cref="DllNotFoundException"/> that says which Debian
    /// package to install. Internal so the tests can prove the error with a name that does not exist.
    /// </summary>
    internal static nint LoadLibrary(string fileName)
    {
        try
        {
            return NativeLibrary.Load(fileName);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"Kafka native library '{fileName}' could not be loaded: install Debian package {DebianPackage} " +
                $"(apt-get install {DebianPackage}; install/setup.sh does it). Loader said: {e.Message}", e);
        }
    }

    private static void InstallResolver(Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone already installed a resolver on this assembly (only one is allowed). Whether it finds librdkafka
            // is checked below by asking Confluent.Kafka for the version.
        }

        if (assembly == typeof(Confluent.Kafka.Library).Assembly)
        {
            try
            {
                _ = Confluent.Kafka.Library.Version;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
            {
                throw new DllNotFoundException(
                    $"Confluent.Kafka could not use {DebianLibraryFile} (another DllImport resolver is installed on " +
                    $"Confluent.Kafka or the library is unusable): {e.Message}. Install Debian package {DebianPackage}.", e);
            }
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        // Confluent.Kafka 1.9 probes "librdkafka" first and distribution-specific names ("centos7-librdkafka", ...)
        // after; all of them mean the one library Debian installed.
        if (libraryName == ImportName || libraryName.EndsWith("-" + ImportName, StringComparison.Ordinal))
            return libraryHandle;
        return IntPtr.Zero;
    }
}
