using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.Testing;

namespace PoolCluster.Simulator.Tests;

/// <summary>
/// A recorded cpuminer session from ../shared/testdata/stratum (see its README): the real job the server sent, the
/// extranonce1 / extranonce2 size / difficulty it handed out, and every share cpuminer found.
/// </summary>
public sealed class RecordedSession
{
    public const string Block300025 = "cpuminer-mainnet-block300025.jsonl";
    public const string Block482683 = "cpuminer-mainnet-block482683.jsonl";

    private RecordedSession(string file, JsonElement meta, JsonElement notifyParams, List<RecordedSubmit> submits, List<string> serverLines)
    {
        File = file;
        Extranonce1 = Convert.FromHexString(meta.GetProperty("extranonce1").GetString()!);
        Extranonce2Size = meta.GetProperty("extranonce2_size").GetInt32();
        Difficulty = meta.GetProperty("difficulty").GetDouble();
        NotifyParams = notifyParams;
        Submits = submits;
        ServerLines = serverLines;
    }

    public string File { get; }
    public byte[] Extranonce1 { get; }
    public int Extranonce2Size { get; }
    public double Difficulty { get; }

    /// <summary>The mining.notify params as recorded: [job id, prevhash, coinb1, coinb2, branch, version, nbits, ntime, clean].</summary>
    public JsonElement NotifyParams { get; }

    public string JobId => NotifyParams[0].GetString()!;
    public string PreviousHash => NotifyParams[1].GetString()!;
    public string Coinbase1 => NotifyParams[2].GetString()!;
    public string Coinbase2 => NotifyParams[3].GetString()!;
    public string[] MerkleBranch => NotifyParams[4].EnumerateArray().Select(e => e.GetString()!).ToArray();
    public string Version => NotifyParams[5].GetString()!;
    public string Bits => NotifyParams[6].GetString()!;
    public uint NTime => StratumEncoding.ParseUInt32(NotifyParams[7].GetString()!, "ntime");

    public IReadOnlyList<RecordedSubmit> Submits { get; }

    /// <summary>Every line the server sent, as recorded (JSON text).</summary>
    public IReadOnlyList<string> ServerLines { get; }

    public ShareChecker CreateChecker() =>
        ShareChecker.FromNotify(PreviousHash, Coinbase1, Coinbase2, MerkleBranch, Version, Bits, Extranonce1.Length + Extranonce2Size);

    public static RecordedSession Load(string file = Block300025)
    {
        var path = TestPaths.TestDataFile("stratum", file);
        JsonElement? meta = null;
        JsonElement? notify = null;
        var submits = new List<RecordedSubmit>();
        var serverLines = new List<string>();
        foreach (var text in System.IO.File.ReadLines(path))
        {
            if (text.Length == 0)
                continue;
            var record = JsonDocument.Parse(text).RootElement;
            var message = record.GetProperty("msg").Clone();
            switch (record.GetProperty("dir").GetString())
            {
                case "meta":
                    meta = message;
                    break;
                case "out":
                    serverLines.Add(message.GetRawText());
                    if (message.TryGetProperty("method", out var m) && m.GetString() == "mining.notify")
                        notify = message.GetProperty("params").Clone();
                    break;
                case "in":
                    if (message.TryGetProperty("method", out var method) && method.GetString() == "mining.submit")
                    {
                        var p = message.GetProperty("params");
                        submits.Add(new RecordedSubmit(Convert.FromHexString(p[2].GetString()!),
                            StratumEncoding.ParseUInt32(p[3].GetString()!, "ntime"), StratumEncoding.ParseUInt32(p[4].GetString()!, "nonce")));
                    }
                    break;
            }
        }
        if (meta == null || notify == null || submits.Count == 0)
            throw new InvalidDataException($"{path}: expected a meta line, a mining.notify and submits");
        return new RecordedSession(file, meta.Value, notify.Value, submits, serverLines);
    }
}

public sealed record RecordedSubmit(byte[] Extranonce2, uint NTime, uint Nonce);
