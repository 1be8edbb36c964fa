using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;
using PoolCluster.Testing.ServerProcesses;

namespace PoolCluster.Testing;

/// <summary>
/// A real MariaDB server (Debian's mariadbd) for tests: its own data dir under /tmp, a free port on 127.0.0.1, and a
/// user <see cref="UserName"/> with a random password (tests authenticate like services do). Starts in well under a
/// second: the data dir is copied from a template that mariadb-install-db initialises once per machine.
/// Stop/Kill and Start simulate a MySQL outage on the same port and data. Dispose kills it and deletes the data; a
/// killed test process takes the server with it (see ServerProcess) and leaves a dir that the next run removes.
/// Most tests want <see cref="MariaDbFixture"/> (one shared server per test assembly) rather than their own.
/// </summary>
public sealed class MariaDbServer : LocalTestServer
{
    public const string UserName = "pool";

    /// <summary>Created at start; <see cref="ConnectionString"/> points at it.</summary>
    public const string DefaultDatabase = "pool";

    // Tests query information_schema (utf8mb3) with plain MySqlConnections.
    static MariaDbServer() => MySqlDriverCompatibility.Apply();

    private MariaDbServer(string rootDirectory, bool isShared)
        : base(rootDirectory, isShared)
    {
    }

    public string DataDirectory => Path.Combine(RootDirectory, "data");
    public string SocketPath => Path.Combine(RootDirectory, "mariadbd.sock");
    public string ErrorLogPath => Path.Combine(RootDirectory, "mariadbd.err");

    /// <summary>Connection string for <see cref="DefaultDatabase"/> as <see cref="UserName"/> over TCP.</summary>
    public string ConnectionString => ConnectionStringFor(DefaultDatabase);

    private protected override string Kind => "MariaDB";
    private protected override string Executable => "mariadbd";
    private protected override string DebianPackage => "mariadb-server";
    private protected override string LogFile => ErrorLogPath;
    private protected override TimeSpan StartTimeout => TimeSpan.FromSeconds(90);
    private protected override TimeSpan StopTimeout => TimeSpan.FromSeconds(60);
    private protected override string ReadyMeans => "accept connections";

    /// <summary>Starts a private server; use it for tests that stop or kill the server.</summary>
    public static MariaDbServer StartNew() => StartNew(isShared: false);

    /// <summary>
    /// Kills MariaDB and Redis test servers left behind by test processes that died without cleaning up, and deletes
    /// their dirs. Runs by itself before the first server of a process starts.
    /// </summary>
    public static void RemoveOrphans() => ServerDirectories.CleanStale();

    internal static MariaDbServer StartNew(bool isShared) => StartOnFreePort(new MariaDbServer(ServerDirectories.Create("mariadb"), isShared));

    public string ConnectionStringFor(string database)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            Server = Host,
            Port = (uint)Port,
            UserID = UserName,
            Password = Password,
            Database = database,
            SslMode = MySqlSslMode.None,
            CharacterSet = "utf8mb4",
            ConnectionTimeout = 5,
            AllowUserVariables = true,
        };
        return builder.ConnectionString;
    }

    /// <summary>The options a service would bind from its "MySql" section to reach <paramref name="database"/>.</summary>
    public MySqlOptions OptionsFor(string database) => new()
    {
        Host = Host,
        Port = Port,
        User = UserName,
        Password = Password,
        Database = database,
    };

    /// <summary>Creates database <paramref name="name"/> (letters, digits, '_'; must not exist) and returns its connection string.</summary>
    public string CreateDatabase(string name)
    {
        ValidateDatabaseName(name);
        Execute($"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
        return ConnectionStringFor(name);
    }

    /// <summary>Creates a database with a unique name starting with <paramref name="prefix"/>; returns its name.</summary>
    public string CreateUniqueDatabase(string prefix = "test")
    {
        var name = $"{prefix}_{RandomToken(12).ToLowerInvariant()}";
        CreateDatabase(name);
        return name;
    }

    public void DropDatabase(string name)
    {
        ValidateDatabaseName(name);
        Execute($"DROP DATABASE IF EXISTS `{name}`");
    }

    private protected override void Prepare()
    {
        MariaDbTemplate.CopyTo(DataDirectory);
        Directory.CreateDirectory(TempDirectory);
        File.WriteAllText(Path.Combine(RootDirectory, "init.sql"), InitSql());
    }

    private string TempDirectory => Path.Combine(RootDirectory, "tmp");

    private protected override IReadOnlyList<string> Arguments() =>
    [
        // --no-defaults must come first: nothing from /etc/mysql may leak in.
        "--no-defaults",
        $"--datadir={DataDirectory}",
        // Its own temporary directory: servers of test assemblies running side by side never touch each other's
        // temporary tables (one failed with "Error on delete of '/tmp/#sql-temptable-...'" when all shared /tmp).
        $"--tmpdir={TempDirectory}",
        $"--socket={SocketPath}",
        $"--pid-file={Path.Combine(RootDirectory, "mariadbd.pid")}",
        $"--log-error={ErrorLogPath}",
        $"--init-file={Path.Combine(RootDirectory, "init.sql")}",
        $"--port={Port}",
        "--bind-address=127.0.0.1",
        // mariadbd refuses to run as root unless told to; tests run as root in CI containers.
        "--user=root",
        "--default-time-zone=+00:00",
        "--max-connections=500",
        "--innodb-temp-data-file-path=ibtmp1:4M:autoextend",
        .. MariaDbTemplate.SharedServerArguments,
    ];

    private protected override bool IsReady() => ServerPorts.Accepts(Port) && CanAuthenticate();

    private bool CanAuthenticate()
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionStringFor(DefaultDatabase)) { Pooling = false, ConnectionTimeout = 10 };
        try
        {
            using var connection = new MySqlConnection(builder.ConnectionString);
            connection.Open();
            return true;
        }
        catch (Exception e) when (e is MySqlException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            // Listening but not yet serving (the init file runs between listen() and accepting connections).
            return false;
        }
    }

    private void Execute(string sql)
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionStringFor(DefaultDatabase));
        using var connection = new MySqlConnection(builder.ConnectionString);
        connection.Open();
        using var command = new MySqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private string InitSql() =>
        // Runs at every start before connections are served. Global privileges so tests can create their databases.
        $"CREATE USER IF NOT EXISTS '{UserName}'@'%' IDENTIFIED BY '{Password}';\n" +
        $"GRANT ALL PRIVILEGES ON *.* TO '{UserName}'@'%' WITH GRANT OPTION;\n" +
        $"CREATE DATABASE IF NOT EXISTS `{DefaultDatabase}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n";

    private static void ValidateDatabaseName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw new ArgumentException($"database name '{name}' must be 1-64 ASCII letters, digits or '_'", nameof(name));
    }
}

/// <summary>
/// An initialised, never-started data dir that servers copy instead of running mariadb-install-db (seconds) each time.
/// It lives in /tmp/poolcluster-mariadb-template-&lt;key&gt;, the key covering the mariadbd binary and the InnoDB
/// options that fix the file layout, so an upgrade or option change builds a fresh one. Built under a file lock by
/// the first test process that needs it and moved into place atomically; immutable afterwards.
/// </summary>
internal static class MariaDbTemplate
{
    /// <summary>Options used both to initialise the template and to run servers on copies of it.</summary>
    public static readonly IReadOnlyList<string> SharedServerArguments =
    [
        "--skip-name-resolve",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--performance-schema=OFF",
        // Small memory and files: several test assemblies each run a server on a 2-core CI machine.
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=8M",
        "--innodb-data-file-path=ibdata1:10M:autoextend",
        "--innodb-undo-tablespaces=0",
        "--aria-pagecache-buffer-size=8M",
        "--key-buffer-size=1M",
        // Many servers at once can exhaust the kernel's AIO contexts (aio-max-nr); synchronous I/O always works.
        "--innodb-use-native-aio=0",
        // TEST ONLY, NEVER IN PRODUCTION: no doublewrite buffer and the redo log written but not fsynced per commit.
        // A crash of the machine could lose the last second of commits or tear pages; a killed mariadbd loses nothing
        // (the OS still has the writes), so Kill()/Start() crash recovery tests stay meaningful.
        "--innodb-doublewrite=0",
        "--innodb-flush-log-at-trx-commit=2",
    ];

    private static readonly Lazy<string> Path_ = new(Build);

    public static void CopyTo(string dataDirectory)
    {
        var template = Path_.Value;
        CopyDirectory(template, dataDirectory);
    }

    private static string Build()
    {
        var mariadbd = Posix.FindExecutable("mariadbd", "install Debian's mariadb-server (install/setup.sh does)");
        var installDb = Posix.FindExecutable("mariadb-install-db", "install Debian's mariadb-server (install/setup.sh does)");
        var binary = new FileInfo(mariadbd);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{binary.Length}|{binary.LastWriteTimeUtc.Ticks}|{string.Join(' ', SharedServerArguments)}")))[..16];
        var tmp = Path.GetTempPath();
        var templatePath = Path.Combine(tmp, $"poolcluster-mariadb-template-{key}");
        if (Directory.Exists(templatePath))
            return templatePath;

        using (AcquireLock(Path.Combine(tmp, "poolcluster-mariadb-template.lock")))
        {
            if (Directory.Exists(templatePath))
                return templatePath;
            var buildRoot = ServerDirectories.Create("mariadb-template-build");
            try
            {
                var dataDirectory = Path.Combine(buildRoot, "data");
                List<string> arguments =
                [
                    "--no-defaults",
                    $"--datadir={dataDirectory}",
                    "--user=root",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                    .. SharedServerArguments,
                ];
                var info = new ProcessStartInfo(installDb)
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    RedirectStandardInput = true,
                    WorkingDirectory = buildRoot,
                };
                foreach (var argument in arguments)
                    info.ArgumentList.Add(argument);
                using var process = Process.Start(info) ?? throw new InvalidOperationException("mariadb-install-db did not start");
                process.StandardInput.Close();
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
                {
                    process.Kill(entireProcessTree: true);
                    throw new TimeoutException("mariadb-install-db did not finish within 3 minutes");
                }
                process.WaitForExit();
                if (process.ExitCode != 0)
                    throw new InvalidOperationException($"mariadb-install-db failed with code {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
                Directory.Move(dataDirectory, templatePath);
            }
            finally
            {
                ServerDirectories.Delete(buildRoot);
            }
        }
        // Templates of an older mariadbd or older options are dead weight (kept for an hour, in case a test run of
        // another checkout is still copying one).
        foreach (var stale in Directory.EnumerateDirectories(tmp, "poolcluster-mariadb-template-*"))
        {
            if (stale != templatePath && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(stale) > TimeSpan.FromHours(1))
                ServerDirectories.Delete(stale);
        }
        return templatePath;
    }

    private static FileStream AcquireLock(string path)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix; the kernel drops it if the holder dies.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < TimeSpan.FromMinutes(4))
            {
                Thread.Sleep(100);
            }
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source))
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (var directory in Directory.EnumerateDirectories(source))
            CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
    }
}
