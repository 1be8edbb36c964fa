using System.Security.Cryptography;
using System.Text;

namespace PoolCluster.DevNode.Rpc;

/// <summary>
/// bitcoind's RPC authentication: HTTP Basic with -rpcuser/-rpcpassword, or with the cookie
/// "__cookie__:&lt;64 hex digits&gt;" that bitcoind writes to &lt;datadir&gt;/regtest/.cookie at start and deletes at stop.
/// </summary>
public sealed class RpcAuthenticator : IDisposable
{
    public const string CookieUser = "__cookie__";

    private readonly byte[]? _userColonPassword;
    private readonly byte[]? _cookieCredentials;

    public RpcAuthenticator(string? user, string? password, string? cookieFile)
    {
        if (!string.IsNullOrEmpty(password))
            _userColonPassword = Encoding.UTF8.GetBytes($"{user}:{password}");
        if (cookieFile is not null)
        {
            var cookie = $"{CookieUser}:{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cookieFile))!);
            // Written beside and renamed, as bitcoind does, so a reader never sees a half-written cookie.
            var temporary = cookieFile + ".tmp";
            File.WriteAllText(temporary, cookie);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, cookieFile, overwrite: true);
            CookieFile = cookieFile;
            _cookieCredentials = Encoding.UTF8.GetBytes(cookie);
        }
        if (_userColonPassword is null && _cookieCredentials is null)
            throw new InvalidOperationException("RPC needs credentials: set Rpc:User and Rpc:Password, or leave Rpc:Cookie on");
    }

    /// <summary>The cookie file written at start (null when cookie auth is off).</summary>
    public string? CookieFile { get; }

    /// <summary>Checks an Authorization header value ("Basic base64(user:password)"), in constant time per secret.</summary>
    public bool IsAuthorized(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.Ordinal))
            return false;
        byte[] presented;
        try
        {
            presented = Convert.FromBase64String(authorization[6..].Trim());
        }
        catch (FormatException)
        {
            return false;
        }
        var ok = false;
        if (_userColonPassword is not null)
            ok |= CryptographicOperations.FixedTimeEquals(presented, _userColonPassword);
        if (_cookieCredentials is not null)
            ok |= CryptographicOperations.FixedTimeEquals(presented, _cookieCredentials);
        return ok;
    }

    /// <summary>Deletes the cookie, as bitcoind does at shutdown, so clients stop using a dead node's secret.</summary>
    public void Dispose()
    {
        if (CookieFile is not null)
        {
            try
            {
                File.Delete(CookieFile);
            }
            catch (IOException)
            {
                // A cookie that cannot be deleted is overwritten at the next start.
            }
        }
    }
}
