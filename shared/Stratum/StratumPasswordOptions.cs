using System.Globalization;

namespace PoolCluster.Stratum;

/// <summary>
/// Difficulty options miners put in the authorize password, btcpool style: comma-separated <c>key=value</c> pairs,
/// <c>d=</c> the start difficulty and <c>md=</c> the minimum difficulty (e.g. <c>x,d=1024,md=512</c>). Fractions are
/// allowed (<c>d=0.01</c>). Anything else in the password is ignored, as is a value that is not a positive number.
/// </summary>
public readonly record struct StratumPasswordOptions(double? StartDifficulty, double? MinimumDifficulty)
{
    public static StratumPasswordOptions Parse(string? password)
    {
        double? start = null, minimum = null;
        if (string.IsNullOrEmpty(password))
            return default;
        foreach (var part in password.AsSpan().Split(','))
        {
            var pair = password.AsSpan()[part];
            var eq = pair.IndexOf('=');
            if (eq <= 0 || pair[(eq + 1)..].Contains('='))
                continue;
            var key = pair[..eq].Trim();
            var text = pair[(eq + 1)..].Trim();
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                || !double.IsFinite(value) || value <= 0)
                continue;
            if (key.Equals("d", StringComparison.OrdinalIgnoreCase))
                start = value;
            else if (key.Equals("md", StringComparison.OrdinalIgnoreCase))
                minimum = value;
        }
        return new StratumPasswordOptions(start, minimum);
    }
}
