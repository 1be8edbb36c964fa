using System.Text;

namespace PoolCluster.Storage.Migrations;

/// <summary>
/// Splits a migration into statements at top-level semicolons, so each runs (and fails) on its own and an error names
/// the statement. Understands MySQL quoting ('...', "...", `...`, with backslash and doubled-quote escapes) and
/// comments (-- , #, /* */); statements holding only comments are dropped. DELIMITER (stored programs) is not
/// supported: it is a client command, not SQL.
/// </summary>
internal static class SqlStatementSplitter
{
    public static IReadOnlyList<string> Split(string sql, string sourceName)
    {
        var statements = new List<string>();
        var current = new StringBuilder();
        var hasCode = false;
        var i = 0;
        var line = 1;
        var atLineStart = true;

        while (i < sql.Length)
        {
            var c = sql[i];
            if (atLineStart && StartsWithWord(sql, i, "DELIMITER"))
                throw new FormatException($"migration {sourceName} line {line}: DELIMITER is a mysql client command and is not supported; write stored programs as separate migrations without it");

            if (c is '\'' or '"' or '`')
            {
                var end = SkipQuoted(sql, i, sourceName, line);
                line += CountNewlines(sql, i, end);
                current.Append(sql, i, end - i);
                hasCode = true;
                i = end;
                atLineStart = false;
                continue;
            }
            if (c == '#' || (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-' && (i + 2 == sql.Length || char.IsWhiteSpace(sql[i + 2]))))
            {
                var end = sql.IndexOf('\n', i);
                end = end < 0 ? sql.Length : end;
                current.Append(sql, i, end - i);
                i = end;
                continue;
            }
            if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                    throw new FormatException($"migration {sourceName} line {line}: comment /* is never closed");
                end += 2;
                // /*! ... */ is MySQL's executable comment: it is code.
                if (i + 2 < sql.Length && sql[i + 2] == '!')
                    hasCode = true;
                line += CountNewlines(sql, i, end);
                current.Append(sql, i, end - i);
                i = end;
                atLineStart = false;
                continue;
            }
            if (c == ';')
            {
                Flush();
                i++;
                atLineStart = false;
                continue;
            }

            current.Append(c);
            if (c == '\n')
            {
                line++;
                atLineStart = true;
            }
            else if (!char.IsWhiteSpace(c))
            {
                hasCode = true;
                atLineStart = false;
            }
            i++;
        }
        Flush();
        return statements;

        void Flush()
        {
            if (hasCode)
                statements.Add(current.ToString().Trim());
            current.Clear();
            hasCode = false;
        }
    }

    private static int SkipQuoted(string sql, int start, string sourceName, int line)
    {
        var quote = sql[start];
        var i = start + 1;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '\\' && quote != '`')
            {
                i += 2;
                continue;
            }
            if (c == quote)
            {
                if (i + 1 < sql.Length && sql[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        throw new FormatException($"migration {sourceName} line {line}: quote {quote} is never closed");
    }

    private static bool StartsWithWord(string sql, int i, string word)
    {
        while (i < sql.Length && sql[i] is ' ' or '\t')
            i++;
        return string.Compare(sql, i, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0
               && (i + word.Length == sql.Length || char.IsWhiteSpace(sql[i + word.Length]));
    }

    private static int CountNewlines(string sql, int from, int to)
    {
        var n = 0;
        for (var i = from; i < to; i++)
            if (sql[i] == '\n')
                n++;
        return n;
    }
}
