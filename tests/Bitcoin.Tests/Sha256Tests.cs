using System.Security.Cryptography;

namespace PoolCluster.Bitcoin.Tests;

public unsafe class Sha256Tests
{
    [Fact]
    public void Native_libcrypto_compression_is_active_on_this_machine()
    {
        // install/setup.sh installs libssl3; without it share checks silently run on the slow managed path.
        Assert.True(Sha256Engine.IsNative, Sha256Engine.Description);
        Assert.Null(Sha256Engine.NativeUnavailableReason);
        Sha256Engine.RequireNative();
        Assert.Contains("libcrypto.so.3", Sha256Engine.Description);
    }

    [Fact]
    public void Native_and_managed_compressions_agree_on_random_blocks_and_states()
    {
        var random = new Random(20240501);
        var block = new byte[64];
        var native = stackalloc uint[8];
        var managed = stackalloc uint[8];
        for (var round = 0; round < 2000; round++)
        {
            random.NextBytes(block);
            for (var i = 0; i < 8; i++) native[i] = managed[i] = (uint)random.NextInt64();
            fixed (byte* b = block)
            {
                Sha256Engine.Compress(native, b);
                Sha256Engine.CompressManaged(managed, b);
            }
            for (var i = 0; i < 8; i++) Assert.Equal(managed[i], native[i]);
        }
    }

    [Fact]
    public void Sha256_matches_the_framework_for_every_length_across_block_boundaries()
    {
        var random = new Random(7);
        var digest = new byte[32];
        for (var length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Hashes.Sha256(data, digest);
            Assert.Equal(SHA256.HashData(data), digest);
            Hashes.DoubleSha256(data, digest);
            Assert.Equal(SHA256.HashData(SHA256.HashData(data)), digest);
            Assert.Equal(SHA256.HashData(SHA256.HashData(data)), Hashes.DoubleSha256(data).ToInternalBytes());
        }
        var large = new byte[1_000_003];
        random.NextBytes(large);
        Hashes.Sha256(large, digest);
        Assert.Equal(SHA256.HashData(large), digest);
    }

    [Fact]
    public void Managed_compression_reproduces_the_fips_test_vector_abc()
    {
        // FIPS 180-2 example: SHA-256("abc").
        var block = new byte[64];
        block[0] = (byte)'a'; block[1] = (byte)'b'; block[2] = (byte)'c'; block[3] = 0x80; block[63] = 24;
        var state = stackalloc uint[8];
        Sha256Core.Initialize(state);
        fixed (byte* b = block) Sha256Engine.CompressManaged(state, b);
        var digest = new byte[32];
        fixed (byte* d = digest) Sha256Core.WriteDigest(state, d);
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(digest));
    }

    [Fact]
    public void Merkle_node_is_double_sha256_of_left_then_right()
    {
        var left = Hashes.DoubleSha256("left"u8);
        var right = Hashes.DoubleSha256("right"u8);
        var concatenated = new byte[64];
        left.WriteInternalBytes(concatenated);
        right.WriteInternalBytes(concatenated.AsSpan(32));
        Assert.Equal(SHA256.HashData(SHA256.HashData(concatenated)), Hashes.MerkleNode(left, right).ToInternalBytes());
    }
}
