using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace PoolCluster.Storage.Migrations;

/// <summary>
/// One schema change: a file Migrations/NNNN_description.sql. Applied in order of <see cref="Number"/>, once per
/// database, and never edited after it shipped (the checksum detects edits): change the schema with a new file.
/// </summary>
public sealed partial class SqlMigration
{
    public SqlMigration(string name, string sql)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(sql);
        var match = NamePattern().Match(name);
        if (!match.Success)
            throw new ArgumentException(
                $"migration name '{name}' must look like 0001_description (four or more digits, '_', then lower-case letters, digits or '_')",
                nameof(name));
        Name = name;
        Number = int.Parse(match.Groups["number"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Sql = sql;
        Checksum = ComputeChecksum(sql);
        Statements = SqlStatementSplitter.Split(sql, name);
        if (Statements.Count == 0)
            throw new ArgumentException($"migration {name} holds no SQL statement", nameof(sql));
    }

    /// <summary>The file name without ".sql", e.g. "0004_shares"; the key in the schema_migrations table.</summary>
    public string Name { get; }
    public int Number { get; }
    public string Sql { get; }

    /// <summary>SHA-256 of the text (UTF-8, line endings normalised to \n, no BOM), lower-case hex.</summary>
    public string Checksum { get; }

    public IReadOnlyList<string> Statements { get; }

    public override string ToString() => Name;

    /// <summary>Line endings and a BOM are normalised away so a checkout on another OS does not look like an edit.</summary>
    public static string ComputeChecksum(string sql)
    {
        var normalised = sql.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
    }

    [GeneratedRegex("^(?<number>[0-9]{4,9})_[a-z0-9_]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
