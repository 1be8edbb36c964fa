namespace PoolCluster.Testing;

/// <summary>Where the repository and the shared real-world test data (../shared/testdata beside the clone) are.</summary>
public static class TestPaths
{
    /// <summary>The repository root: the nearest folder above the test binaries holding PoolCluster.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared/testdata beside the repository (real chain and miner data, see its README).</summary>
    public static string TestData
    {
        get
        {
            var dir = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "testdata"));
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"real test data not found at {dir}: the clone needs ../shared/testdata beside it");
            return dir;
        }
    }

    public static string TestDataFile(params string[] parts) => Path.Combine([TestData, .. parts]);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PoolCluster.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"PoolCluster.sln not found above {AppContext.BaseDirectory}");
    }
}
