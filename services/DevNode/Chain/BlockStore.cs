using System.Buffers.Binary;

namespace PoolCluster.DevNode.Chain;

/// <summary>
/// Accepted blocks appended to &lt;DataDir&gt;/regtest/devnode-blocks.dat so a restart resumes the same chain. A record is
/// "DNB1", the block's length (uint32 LE), the block, and the fees its coinbase was allowed (int64 LE: DevNode's fee
/// knowledge comes from its mempool, which a restart loses). A torn last record (a crash mid-write) is cut off.
/// </summary>
public sealed class BlockStore : IDisposable
{
    private static ReadOnlySpan<byte> Magic => "DNB1"u8;
    private readonly FileStream _file;

    public BlockStore(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
    }

    public string Path { get; }

    /// <summary>Reads every complete record from the start, truncates a torn tail, and leaves the file positioned for appends.</summary>
    public List<(byte[] Block, long Fees)> ReadAll()
    {
        var records = new List<(byte[], long)>();
        _file.Position = 0;
        Span<byte> head = stackalloc byte[8];
        Span<byte> tail = stackalloc byte[8];
        long good = 0;
        while (true)
        {
            if (_file.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8 || !head[..4].SequenceEqual(Magic))
                break;
            var length = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            if (length > 8_000_000)
                break;
            var block = new byte[length];
            if (_file.ReadAtLeast(block, (int)length, throwOnEndOfStream: false) < length)
                break;
            if (_file.ReadAtLeast(tail, 8, throwOnEndOfStream: false) < 8)
                break;
            records.Add((block, BinaryPrimitives.ReadInt64LittleEndian(tail)));
            good = _file.Position;
        }
        _file.SetLength(good);
        _file.Position = good;
        return records;
    }

    public void Append(ReadOnlySpan<byte> block, long fees)
    {
        Span<byte> head = stackalloc byte[8];
        Magic.CopyTo(head);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)block.Length);
        Span<byte> tail = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(tail, fees);
        _file.Write(head);
        _file.Write(block);
        _file.Write(tail);
        _file.Flush(flushToDisk: false);
    }

    public void Dispose() => _file.Dispose();
}
