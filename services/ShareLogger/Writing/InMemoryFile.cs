using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PoolCluster.ShareLogger.Writing;

/// <summary>
/// A file that lives in memory only, for LOAD DATA LOCAL INFILE: MySql.Data 8.0.16 can only send a named file, so a
/// batch is written here and the driver reads it back by <see cref="Path"/>. On Linux it is a memfd (memfd_create),
/// named /proc/self/fd/N: nothing on disk, and the kernel frees it when the process dies, even by kill -9. Elsewhere
/// it falls back to a temp file removed on dispose.
/// </summary>
internal sealed class InMemoryFile : IDisposable
{
    private const uint MfdCloexec = 1;

    private readonly SafeFileHandle handle;
    private readonly string? tempFile;

    private InMemoryFile(SafeFileHandle handle, string path, string? tempFile)
    {
        this.handle = handle;
        Path = path;
        this.tempFile = tempFile;
    }

    /// <summary>The name the MySQL driver opens; contains no quote or backslash, so it can go into SQL as is.</summary>
    public string Path { get; }

    public bool IsMemfd => tempFile == null;

    public static InMemoryFile Create(string name)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var fd = memfd_create(name, MfdCloexec);
                if (fd >= 0)
                    return new InMemoryFile(new SafeFileHandle(fd, ownsHandle: true), $"/proc/self/fd/{fd}", null);
            }
            catch (EntryPointNotFoundException)
            {
                // A libc without memfd_create (very old glibc): fall through to a temp file.
            }
        }
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}.tsv");
        var fileHandle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new InMemoryFile(fileHandle, path, path);
    }

    /// <summary>Replaces the whole content with <paramref name="content"/>.</summary>
    public void Write(ReadOnlySpan<byte> content)
    {
        RandomAccess.SetLength(handle, content.Length);
        RandomAccess.Write(handle, content, 0);
    }

    public void Dispose()
    {
        handle.Dispose();
        if (tempFile != null)
        {
            try
            {
                File.Delete(tempFile);
            }
            catch (IOException)
            {
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int memfd_create([MarshalAs(UnmanagedType.LPUTF8Str)] string name, uint flags);
}
