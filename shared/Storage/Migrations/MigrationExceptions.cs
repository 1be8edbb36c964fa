namespace PoolCluster.Storage.Migrations;

/// <summary>A migration already applied to the database no longer matches its file: someone edited a shipped migration.</summary>
public sealed class MigrationChecksumMismatchException(string migrationName, string appliedChecksum, string fileChecksum, string database)
    : Exception($"migration {migrationName} was applied to database '{database}' with checksum {appliedChecksum}, but the " +
                $"migration file now has checksum {fileChecksum}: a migration must not change once applied. Revert the " +
                $"edit and put the change in a new migration file (or, if the database was changed by hand to match, update " +
                $"schema_migrations.checksum for {migrationName} deliberately).")
{
    public string MigrationName { get; } = migrationName;
    public string AppliedChecksum { get; } = appliedChecksum;
    public string FileChecksum { get; } = fileChecksum;
}

/// <summary>A statement of a migration failed; the migration is not recorded as applied.</summary>
public sealed class MigrationFailedException(string migrationName, int statementNumber, string statement, Exception inner)
    : Exception($"migration {migrationName} failed at statement {statementNumber} ({Abbreviate(statement)}): {inner.Message}. " +
                "DML was rolled back; DDL before it is not transactional in MySQL and stays, which is why migrations " +
                "use IF NOT EXISTS forms: fix the cause and run again.", inner)
{
    public string MigrationName { get; } = migrationName;
    public int StatementNumber { get; } = statementNumber;
    public string Statement { get; } = statement;

    private static string Abbreviate(string statement)
    {
        var oneLine = string.Join(' ', statement.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return oneLine.Length <= 160 ? oneLine : oneLine[..157] + "...";
    }
}
