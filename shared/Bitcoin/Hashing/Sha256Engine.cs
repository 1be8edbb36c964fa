using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PoolCluster.Bitcoin;

/// <summary>
/// The SHA-256 block compression every hash in this library is built on. .NET exposes no SHA-NI intrinsics and
/// SHA256.HashData costs ~650 ns a call in fixed overhead, so the compression comes from the system's OpenSSL
/// (<c>SHA256_Transform</c> in libcrypto.so.3, Debian package libssl3), which uses the CPU's SHA extensions, called
/// without a GC transition (~55 ns a block). When libcrypto cannot be loaded (or fails its
/// self-test) a managed implementation is used instead: correct, several times slower; <see cref="Description"/> says
/// which one is active and why, and services that need the speed call <see cref="RequireNative"/> at startup.
/// Setting the environment variable POOLCLUSTER_SHA256=managed forces the managed implementation.
/// </summary>
public static unsafe class Sha256Engine
{
    /// <summary>The exact library file loaded: OpenSSL 3's libcrypto, from Debian's libssl3 package.</summary>
    public const string LibCryptoFileName = "libcrypto.so.3";

    /// <summary>The Debian package that provides <see cref="LibCryptoFileName"/> (listed in install/setup.sh).</summary>
    public const string DebianPackage = "libssl3";

    /// <summary>Environment variable that forces the managed implementation when set to "managed".</summary>
    public const string EngineEnvironmentVariable = "POOLCLUSTER_SHA256";

    // SHA256_Transform(SHA256_CTX* c, const unsigned char* data) compresses one 64-byte block into c->h[0..7], the first
    // member of SHA256_CTX and the only one it touches; our state is exactly those 8 words. The self-test below checks
    // that (no write outside the 8 words, same result as the reference) before the native path is enabled.
    //
    // A DllImport, not a function pointer: the JIT emits vzeroupper before a DllImport call but not before an unmanaged
    // calli. OpenSSL's SHA-NI code is legacy-SSE encoded, and entered with dirty upper AVX state (any 256-bit copy the
    // JIT emitted just before, e.g. of a 32-byte struct) every one of its instructions pays a merge penalty: measured on
    // this machine 57 ns clean vs 210 ns dirty per block. SuppressGCTransition: the call is short, never blocks and
    // never calls back, so the GC mode switch (tens of ns) is skipped.
    [DllImport(LibCryptoFileName, EntryPoint = "SHA256_Transform", ExactSpelling = true)]
    [SuppressGCTransition]
    private static extern void NativeTransform(uint* state, byte* block);

    private static readonly bool s_native;

    static Sha256Engine()
    {
        var forced = Environment.GetEnvironmentVariable(EngineEnvironmentVariable);
        if (string.Equals(forced, "managed", StringComparison.OrdinalIgnoreCase))
        {
            NativeUnavailableReason = $"managed implementation forced by {EngineEnvironmentVariable}=managed";
            Description = $"managed SHA-256 ({NativeUnavailableReason})";
            return;
        }
        if (!NativeLibrary.TryLoad(LibCryptoFileName, out var handle))
        {
            NativeUnavailableReason = $"{LibCryptoFileName} could not be loaded (install the Debian package {DebianPackage})";
            Description = $"managed SHA-256 ({NativeUnavailableReason})";
            return;
        }
        if (!NativeLibrary.TryGetExport(handle, "SHA256_Transform", out _))
        {
            NativeUnavailableReason = $"{LibCryptoFileName} has no SHA256_Transform export";
            Description = $"managed SHA-256 ({NativeUnavailableReason})";
            return;
        }
        if (!SelfTest(out var failure))
        {
            NativeUnavailableReason = $"{LibCryptoFileName} SHA256_Transform failed its self-test: {failure}";
            Description = $"managed SHA-256 ({NativeUnavailableReason})";
            return;
        }
        s_native = true;
        Description = $"{LibCryptoFileName} SHA256_Transform";
    }

    /// <summary>True when blocks are compressed by libcrypto (fast path), false on the managed fallback.</summary>
    public static bool IsNative => s_native;

    /// <summary>Which implementation is active, and why the native one is not when it is not (for startup logs).</summary>
    public static string Description { get; }

    /// <summary>Why libcrypto is not used, or null when it is.</summary>
    public static string? NativeUnavailableReason { get; }

    /// <summary>Throws when the native compression is not active, naming the library and the package to install.</summary>
    public static void RequireNative()
    {
        if (!IsNative)
            throw new InvalidOperationException(
                $"native SHA-256 is required but not available: {NativeUnavailableReason}. Share checks would run several times slower.");
    }

    /// <summary>Compresses one 64-byte block into the 8-word state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Compress(uint* state, byte* block)
    {
        if (s_native)
            NativeTransform(state, block);
        else
            CompressManaged(state, block);
    }

    private static bool SelfTest(out string failure)
    {
        // 8 state words framed by guard words, so a write beyond h[0..7] is caught rather than corrupting memory later.
        const uint Guard = 0xA5A5A5A5;
        var words = stackalloc uint[8 + 8 + 8];
        var expected = stackalloc uint[8];
        var block = stackalloc byte[64];
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 64; i++) block[i] = (byte)(i * 7 + round * 13 + 1);
            for (var i = 0; i < 24; i++) words[i] = Guard;
            for (var i = 0; i < 8; i++) words[8 + i] = expected[i] = 0x6a09e667u + (uint)(i * 0x1234567 + round);
            NativeTransform(words + 8, block);
            CompressManaged(expected, block);
            for (var i = 0; i < 8; i++)
            {
                if (words[i] != Guard || words[16 + i] != Guard)
                {
                    failure = "it wrote outside the 8-word state";
                    return false;
                }
                if (words[8 + i] != expected[i])
                {
                    failure = "its result differs from the reference implementation";
                    return false;
                }
            }
        }
        failure = "";
        return true;
    }

    private static ReadOnlySpan<uint> RoundConstants =>
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    /// <summary>The FIPS 180-4 compression in plain C#: the fallback, and the reference the native one is tested against.</summary>
    internal static void CompressManaged(uint* state, byte* block)
    {
        var w = stackalloc uint[64];
        for (var i = 0; i < 16; i++)
            w[i] = BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(block + 4 * i, 4));
        for (var i = 16; i < 64; i++)
        {
            var x = w[i - 15];
            var y = w[i - 2];
            var s0 = BitOperations.RotateRight(x, 7) ^ BitOperations.RotateRight(x, 18) ^ (x >> 3);
            var s1 = BitOperations.RotateRight(y, 17) ^ BitOperations.RotateRight(y, 19) ^ (y >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        uint a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
        var k = RoundConstants;
        for (var i = 0; i < 64; i++)
        {
            var s1 = BitOperations.RotateRight(e, 6) ^ BitOperations.RotateRight(e, 11) ^ BitOperations.RotateRight(e, 25);
            var ch = (e & f) ^ (~e & g);
            var t1 = h + s1 + ch + k[i] + w[i];
            var s0 = BitOperations.RotateRight(a, 2) ^ BitOperations.RotateRight(a, 13) ^ BitOperations.RotateRight(a, 22);
            var maj = (a & b) ^ (a & c) ^ (b & c);
            var t2 = s0 + maj;
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}
