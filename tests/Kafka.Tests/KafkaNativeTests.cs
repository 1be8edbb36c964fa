namespace PoolCluster.Kafka.Tests;

public class KafkaNativeTests
{
    [Fact]
    public void EnsureInitialized_is_idempotent_and_thread_safe_and_loads_debians_librdkafka()
    {
        Parallel.For(0, 32, _ => KafkaNative.EnsureInitialized());
        KafkaNative.EnsureInitialized();

        // Debian bookworm's librdkafka1 is 2.0.2; Confluent.Kafka 1.9 needs at least 1.x.
        Assert.Matches(@"^[12]\.\d+\.\d+", KafkaNative.LibrdkafkaVersion);
    }

    [Fact]
    public void A_missing_native_library_gives_an_error_naming_the_debian_package()
    {
        var error = Assert.Throws<DllNotFoundException>(() => KafkaNative.LoadLibrary("librdkafka-not-installed.so.99"));

        Assert.Contains("librdkafka-not-installed.so.99", error.Message);
        Assert.Contains("install Debian package librdkafka1", error.Message);
        Assert.IsType<DllNotFoundException>(error.InnerException);
    }

    [Fact]
    public void The_real_library_name_loads()
    {
        Assert.NotEqual(IntPtr.Zero, KafkaNative.LoadLibrary(KafkaNative.DebianLibraryFile));
    }
}
