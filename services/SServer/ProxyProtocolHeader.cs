using System.Globalization;
using System.Net;
using System.Text;

namespace PoolCluster.SServer;

/// <summary>
/// The PROXY protocol v1 header a load balancer (HAProxy, AWS NLB, nginx) puts before the client's bytes, e.g.
/// <c>PROXY TCP4 203.0.113.7 198.51.100.1 51234 3333</c> (framing '\r\n' already removed): the real client address.
/// <c>PROXY UNKNOWN</c> (a health check) keeps the socket's own address. At most 107 bytes per the spec.
/// </summary>
public static class ProxyProtocolHeader
{
    public const int MaxLength = 107;

    /// <summary>Parses the header line; on success <paramref name="source"/> is the client's address (null for UNKNOWN).</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out IPEndPoint? source, out string error)
    {
        source = null;
        if (line.Length > MaxLength)
        {
            error = $"PROXY header is {line.Length} bytes, more than the {MaxLength} the protocol allows";
            return false;
        }
        if (!line.StartsWith("PROXY "u8))
        {
            error = "the connection did not start with a PROXY protocol v1 header (Stratum:ProxyProtocol is on)";
            return false;
        }
        var text = Encoding.ASCII.GetString(line);
        var parts = text.Split(' ');
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            error = "";
            return true;
        }
        if (parts.Length != 6 || parts[1] is not ("TCP4" or "TCP6"))
        {
            error = $"malformed PROXY header '{text}': expected PROXY TCP4|TCP6 src dst srcport dstport";
            return false;
        }
        if (!IPAddress.TryParse(parts[2], out var address)
            || (parts[1] == "TCP4") != (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
        {
            error = $"PROXY header source address '{parts[2]}' is not a {parts[1]} address";
            return false;
        }
        if (!ushort.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            error = $"PROXY header source port '{parts[4]}' is not a port number";
            return false;
        }
        source = new IPEndPoint(address, port);
        error = "";
        return true;
    }
}
