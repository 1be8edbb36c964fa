using PoolCluster.Storage.Migrations;

namespace PoolCluster.Storage.Tests;

public sealed class SqlStatementSplitterTests
{
    private static IReadOnlyList<string> Split(string sql) => new SqlMigration("0001_test", sql).Statements;

    [Fact]
    public void Splits_at_top_level_semicolons_and_drops_comment_only_parts()
    {
        var statements = Split("-- header; not a statement\nCREATE TABLE a (id INT);\n\n# another; comment\nINSERT INTO a VALUES (1);\n/* trailing; */\n");
        Assert.Equal(["-- header; not a statement\nCREATE TABLE a (id INT)", "# another; comment\nINSERT INTO a VALUES (1)"], statements);
    }

    [Fact]
    public void Semicolons_inside_quotes_and_comments_do_not_split()
    {
        var statements = Split("INSERT INTO t VALUES ('a;b', \"c;d\", 'it''s; fine', 'back\\'slash;');\nCREATE TABLE `we;ird` (x INT /* ; */);\nSELECT 1 -- ; tail\n;");
        Assert.Equal(3, statements.Count);
        Assert.Equal("INSERT INTO t VALUES ('a;b', \"c;d\", 'it''s; fine', 'back\\'slash;')", statements[0]);
        Assert.Equal("CREATE TABLE `we;ird` (x INT /* ; */)", statements[1]);
        Assert.Equal("SELECT 1 -- ; tail", statements[2]);
    }

    [Fact]
    public void Double_dash_without_a_space_is_an_operator_not_a_comment()
    {
        Assert.Equal(["SELECT 1--1", "SELECT 2"], Split("SELECT 1--1;SELECT 2"));
    }

    [Fact]
    public void Executable_comments_count_as_code()
    {
        Assert.Equal(["/*!40101 SET NAMES utf8mb4 */"], Split("/*!40101 SET NAMES utf8mb4 */;"));
    }

    [Fact]
    public void Bad_input_is_reported_with_the_file_and_line()
    {
        Assert.Contains("line 2: quote ' is never closed", Assert.Throws<FormatException>(() => Split("SELECT 1;\nSELECT 'open;")).Message, StringComparison.Ordinal);
        Assert.Contains("line 1: comment /* is never closed", Assert.Throws<FormatException>(() => Split("SELECT 1 /* open")).Message, StringComparison.Ordinal);
        var delimiter = Assert.Throws<FormatException>(() => Split("SELECT 1;\n  DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$"));
        Assert.Contains("0001_test line 2: DELIMITER", delimiter.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_migrations_split_into_their_create_statements()
    {
        var byName = MySqlMigrator.EmbeddedMigrations.ToDictionary(m => m.Name);
        Assert.Equal(2, byName["0001_btcpool_local_db"].Statements.Count);
        Assert.Equal(6, byName["0002_btcpool_local_stats_db"].Statements.Count);
        // Every statement is re-runnable: a guarded CREATE TABLE, a guarded ADD COLUMN, a key change guarded by DROP ... IF
        // EXISTS, or an UPDATE that computes a column from others (the same result the second time).
        Assert.All(MySqlMigrator.EmbeddedMigrations.SelectMany(m => m.Statements), s =>
            Assert.True(s.Contains("CREATE TABLE IF NOT EXISTS", StringComparison.Ordinal) || s.Contains("ADD COLUMN IF NOT EXISTS", StringComparison.Ordinal)
                        || s.Contains("DROP COLUMN IF EXISTS", StringComparison.Ordinal) || s.Contains("DROP INDEX IF EXISTS", StringComparison.Ordinal)
                        || s.TrimEnd().EndsWith("SET `id` = (CAST(`kafka_partition` AS UNSIGNED) << 48) | `kafka_offset`", StringComparison.Ordinal), s));
    }
}
