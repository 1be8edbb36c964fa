namespace PoolCluster.DevNode;

/// <summary>The --help text.</summary>
public static class DevNodeHelp
{
    public const string Text = """
        PoolCluster.DevNode - a regtest development node that speaks bitcoind's RPC and ZMQ interfaces.

        WHAT IT IS NOT: a Bitcoin node. It has no P2P networking, no UTXO set and checks no scripts or signatures;
        its mempool holds made-up (unsigned) segwit transactions. It exists so the pool can be developed and tested
        where bitcoind cannot run. Never point anything with real money at it.

        What it does like bitcoind -regtest: the real regtest genesis block; JSON-RPC 1.0/2.0 over HTTP POST at /
        (and /wallet/<name>) with rpcuser/rpcpassword or cookie auth (<DataDir>/regtest/.cookie); getblocktemplate
        (BIP22/23 with long polling), submitblock with bitcoind's block checks and reject reasons, generatetoaddress,
        getblock/getblockheader/getblockhash/getbestblockhash/getblockcount, getblockchaininfo, getmininginfo,
        getnetworkinfo, getrawmempool, validateaddress, uptime, stop; ZMQ hashblock/rawblock/hashtx.

        Usage: PoolCluster.DevNode [--ready-file PATH] [--Key=value ...]

          --ready-file PATH                 when ready, write a JSON file with rpcUrl, rpcPort, rpcUser, cookieFile,
                                            zmqHashBlock, zmqRawBlock, zmqHashTx, dataDir, chain, pid; deleted at stop
          --config PATH                     an extra JSON settings file (also POOL_CONFIG)
          --Rpc:Port=18443                  RPC port on 127.0.0.1; 0 picks a free one (see the ready file)
          --Rpc:User=NAME --Rpc:Password=P  HTTP Basic credentials (cookie auth works as well unless --Rpc:Cookie=false)
          --DataDir=devnode-data            cookie and stored chain live in <DataDir>/regtest
          --PersistChain=true               keep accepted blocks in <DataDir>/regtest/devnode-blocks.dat
          --Zmq:HashBlock=tcp://127.0.0.1:28332   also Zmq:RawBlock, Zmq:HashTx; "tcp://127.0.0.1:*" = a free port
          --Mempool:TxPerSecond=2           synthetic transactions per second (0 = none)
          --ForeignBlockIntervalSeconds=0   another "pool" mines a block this often (0 = never)
          --LongPollMempoolSeconds=60       long poll answers after this long if only the mempool changed
          --SeedTip:Hash=H --SeedTip:Height=N --SeedTip:Time=T   start on a block it does not have (tests)

        Settings also come from appsettings.json beside the binary and POOL_-prefixed environment variables
        (POOL_Rpc__Port=18443). See services/DevNode/README.md.

        """;
}
