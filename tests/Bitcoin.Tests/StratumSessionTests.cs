namespace PoolCluster.Bitcoin.Tests;

/// <summary>The real cpuminer sessions: every recorded share checks out, and no one-byte change of it does.</summary>
public class StratumSessionTests
{
    private static (StratumSession Session, ShareChecker Checker, byte[] Extranonce1, Target Target) Load(string file)
    {
        var session = RealData.Session(file);
        var extranonce1 = Hex.Decode(session.Extranonce1);
        var checker = ShareChecker.FromNotify(session.PreviousBlockHash, session.Coinbase1, session.Coinbase2,
            session.MerkleBranch, session.Version, session.Bits, extranonce1.Length + session.Extranonce2Size);
        return (session, checker, extranonce1, Target.FromDifficulty(session.Difficulty));
    }

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl", 52)]
    [InlineData("cpuminer-mainnet-block300025.jsonl", 69)]
    public void Every_recorded_submit_hashes_at_or_below_the_share_target(string file, int submits)
    {
        var (session, checker, extranonce1, target) = Load(file);
        Assert.Equal(submits, session.Submits.Count);
        foreach (var submit in session.Submits)
        {
            var result = checker.Check(extranonce1, Hex.Decode(submit.Extranonce2),
                StratumEncoding.ParseUInt32(submit.Time, "ntime"), StratumEncoding.ParseUInt32(submit.Nonce, "nonce"), target);
            Assert.True(result.IsValid, $"submit nonce {submit.Nonce}: {result.Status}, hash {result.BlockHash}");
            Assert.False(result.IsBlock);
            Assert.True(result.HashDifficulty >= session.Difficulty);
            Assert.Equal(StratumEncoding.ParseUInt32(session.Version, "version"), result.Version);
        }
    }

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl")]
    [InlineData("cpuminer-mainnet-block300025.jsonl")]
    public void Changing_any_one_byte_of_extranonce2_ntime_or_nonce_is_rejected(string file)
    {
        var (session, checker, extranonce1, target) = Load(file);
        var rejected = 0;
        foreach (var submit in session.Submits)
        {
            var fields = new[] { Hex.Decode(submit.Extranonce2), Hex.Decode(submit.Time), Hex.Decode(submit.Nonce) };
            var original = Check(checker, extranonce1, fields, target);
            Assert.True(original.IsValid);
            for (var field = 0; field < fields.Length; field++)
            {
                for (var i = 0; i < fields[field].Length; i++)
                {
                    foreach (var change in new Func<byte, byte>[] { b => (byte)(b ^ 0x01), b => (byte)(b + 1), b => (byte)(b ^ 0x80) })
                    {
                        var mutated = fields.Select(f => f.ToArray()).ToArray();
                        mutated[field][i] = change(mutated[field][i]);
                        var result = Check(checker, extranonce1, mutated, target);
                        Assert.NotEqual(original.BlockHash, result.BlockHash);
                        Assert.Equal(ShareCheckStatus.LowDifficulty, result.Status);
                        rejected++;
                    }
                }
            }
        }
        Assert.Equal(session.Submits.Count * 12 * 3, rejected);
    }

    private static ShareCheckResult Check(ShareChecker checker, byte[] extranonce1, byte[][] fields, Target target) =>
        checker.Check(extranonce1, fields[0],
            System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fields[1]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fields[2]), target);

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl")]
    [InlineData("cpuminer-mainnet-block300025.jsonl")]
    public void Fast_check_agrees_with_the_straightforward_computation(string file)
    {
        var (session, checker, extranonce1, target) = Load(file);
        foreach (var submit in session.Submits.Take(10))
        {
            var extranonce2 = Hex.Decode(submit.Extranonce2);
            var time = StratumEncoding.ParseUInt32(submit.Time, "ntime");
            var nonce = StratumEncoding.ParseUInt32(submit.Nonce, "nonce");

            // Reference: concatenate, hash with the general-purpose functions, rebuild the 80 bytes by hand.
            var coinbase = Hex.Decode(session.Coinbase1 + session.Extranonce1 + submit.Extranonce2 + session.Coinbase2);
            var root = Merkle.ComputeRootFromCoinbase(Hashes.DoubleSha256(coinbase), StratumEncoding.ParseMerkleBranch(session.MerkleBranch));
            var header = new BlockHeader(StratumEncoding.ParseUInt32(session.Version, "version"),
                StratumEncoding.ParsePreviousBlockHash(session.PreviousBlockHash), root, time,
                StratumEncoding.ParseUInt32(session.Bits, "nbits"), nonce);

            Assert.Equal(header.GetHash(), checker.Check(extranonce1, extranonce2, time, nonce, target).BlockHash);
            Assert.Equal(header, checker.BuildHeader(extranonce1, extranonce2, time, nonce));
            Assert.Equal(coinbase, checker.BuildCoinbase(extranonce1, extranonce2));
        }
    }

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl")]
    [InlineData("cpuminer-mainnet-block300025.jsonl")]
    public void Notify_fields_decode_to_the_real_blocks_values(string file)
    {
        var session = RealData.Session(file);
        var block = RealData.Block("mainnet-" + session.BlockFile);
        Assert.Equal(session.BlockHash, block.GetHash().ToDisplayHex());
        // prevhash is word-swapped internal order; version/nbits/ntime are big-endian hex of the header's numbers.
        Assert.Equal(block.Header.PreviousBlockHash, StratumEncoding.ParsePreviousBlockHash(session.PreviousBlockHash));
        Assert.Equal(session.PreviousBlockHash, StratumEncoding.FormatPreviousBlockHash(block.Header.PreviousBlockHash));
        Assert.Equal(block.Header.Version, StratumEncoding.ParseUInt32(session.Version, "version"));
        Assert.Equal(block.Header.Bits, StratumEncoding.ParseUInt32(session.Bits, "nbits"));
        Assert.Equal(block.Header.Time, StratumEncoding.ParseUInt32(session.Time, "ntime"));
        Assert.Equal(session.Version, StratumEncoding.FormatUInt32(block.Header.Version));
        // The branch is the real block's coinbase branch, in internal byte order.
        var branch = Merkle.ComputeCoinbaseBranch(block.Transactions.Skip(1).Select(t => t.TxId).ToArray());
        Assert.Equal(session.MerkleBranch, StratumEncoding.FormatMerkleBranch(branch));
    }

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl", "/capture/")]
    [InlineData("cpuminer-mainnet-block300025.jsonl", "/capture/")]
    public void Coinbase_builder_reproduces_the_sessions_coinbase1_and_coinbase2(string file, string tag)
    {
        // The server built its coinbase from the real block's outputs with scriptSig = height, 8 extranonce bytes, tag.
        var session = RealData.Session(file);
        var realCoinbase = RealData.Block("mainnet-" + session.BlockFile).Coinbase;
        Assert.True(Bip34.TryDecodeHeight(realCoinbase.Inputs[0].ScriptSig.Span, out var height));
        var commitmentIndex = WitnessCommitment.TryFind(realCoinbase, out _, out var index) ? index : -1;
        var builder = new CoinbaseBuilder
        {
            Height = height,
            ExtranonceSize = 8,
            PoolTag = System.Text.Encoding.ASCII.GetBytes(tag),
            Outputs = realCoinbase.Outputs.Where((_, i) => i != commitmentIndex).ToArray(),
            WitnessCommitmentScript = commitmentIndex >= 0 ? realCoinbase.Outputs[commitmentIndex].ScriptPubKey : default,
        };
        // The real block put its commitment last, as the builder does.
        Assert.True(commitmentIndex < 0 || commitmentIndex == realCoinbase.Outputs.Count - 1);
        var parts = builder.Build();
        Assert.Equal(session.Coinbase1, Hex.Encode(parts.Coinbase1));
        Assert.Equal(session.Coinbase2, Hex.Encode(parts.Coinbase2));
    }
}
