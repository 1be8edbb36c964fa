using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PoolCluster.Node;

namespace PoolCluster.DevNode.Tests;

/// <summary>The HTTP and JSON-RPC layer: bitcoind's status codes, error objects, auth and batches, over real sockets.</summary>
public sealed class RpcProtocolTests
{
    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> PostAsync(
        TestNode node, string body, string? credentials = TestNode.User + ":" + TestNode.Password, string path = "/")
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(node.Server.RpcUrl), path))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (credentials is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Fact]
    public async Task Missing_or_wrong_credentials_get_401_with_the_basic_challenge()
    {
        await using var node = await TestNode.StartAsync();
        const string call = """{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}""";

        var (status, body, response) = await PostAsync(node, call, credentials: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Basic realm=\"jsonrpc\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("", body);

        (status, _, response) = await PostAsync(node, call, credentials: TestNode.User + ":wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Basic realm=\"jsonrpc\"", response.Headers.WwwAuthenticate.ToString());

        var client = new BitcoindRpcClient(new NodeEndpoint { Name = "x", RpcUrl = node.Server.RpcUrl, RpcUser = TestNode.User, RpcPassword = "nope" });
        var refused = await Assert.ThrowsAsync<NodeUnavailableException>(() => client.GetBlockCountAsync());
        Assert.Contains("401", refused.Message);

        (status, body, _) = await PostAsync(node, call);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"result":0,"error":null,"id":1}""", body.TrimEnd());
    }

    [Fact]
    public async Task The_cookie_is_written_at_start_accepted_and_deleted_at_stop()
    {
        var node = await TestNode.StartAsync();
        var cookieFile = node.Server.CookieFile!;
        Assert.Equal(Path.Combine(node.Server.DataDir, "regtest", ".cookie"), cookieFile);
        var cookie = await File.ReadAllTextAsync(cookieFile);
        Assert.Matches("^__cookie__:[0-9a-f]{64}$", cookie);

        using (var client = new BitcoindRpcClient(new NodeEndpoint { Name = "cookie", RpcUrl = node.Server.RpcUrl, CookieFile = cookieFile }))
            Assert.Equal(0, await client.GetBlockCountAsync());
        var (status, _, _) = await PostAsync(node, """{"method":"getblockcount"}""", credentials: "__cookie__:" + new string('0', 64));
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        await node.DisposeAsync();
        Assert.False(File.Exists(cookieFile));
    }

    [Fact]
    public async Task Unknown_method_is_minus_32601_with_http_404_for_legacy_requests()
    {
        await using var node = await TestNode.StartAsync();
        var error = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("getnewaddress"));
        Assert.Equal(-32601, error.Code);
        Assert.Equal("Method not found", error.RpcMessage);

        var (status, body, _) = await PostAsync(node, """{"jsonrpc":"1.0","id":"x","method":"nosuchmethod","params":[]}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("""{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":"x"}""", body.TrimEnd());
    }

    [Fact]
    public async Task Json_rpc_2_answers_200_with_only_result_or_error_and_204_for_notifications()
    {
        await using var node = await TestNode.StartAsync();
        var (status, body, _) = await PostAsync(node, """{"jsonrpc":"2.0","id":7,"method":"nosuchmethod"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":7}""", body.TrimEnd());

        (status, body, _) = await PostAsync(node, """{"jsonrpc":"2.0","id":8,"method":"getblockcount"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"jsonrpc":"2.0","result":0,"id":8}""", body.TrimEnd());

        (status, body, _) = await PostAsync(node, """{"jsonrpc":"2.0","method":"getblockcount"}""");
        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Equal("", body);
    }

    [Fact]
    public async Task Errors_have_bitcoinds_codes_and_http_statuses()
    {
        await using var node = await TestNode.StartAsync();
        var (status, body, _) = await PostAsync(node, "{not json");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("""{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}""", body.TrimEnd());

        (status, body, _) = await PostAsync(node, """{"id":1,"params":[]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("\"code\":-32600", body);

        (status, body, _) = await PostAsync(node, """{"id":2,"method":"getblockhash","params":[5]}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("""{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":2}""", body.TrimEnd());

        (status, body, _) = await PostAsync(node, """{"id":3,"method":"getblockhash","params":["five"]}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Contains("\"code\":-3", body);

        (status, body, _) = await PostAsync(node, """{"id":4,"method":"getblock","params":["00"]}""");
        Assert.Contains("\"code\":-8", body);
        Assert.Contains("blockhash must be of length 64 (not 2, for '00')", body);

        (status, body, _) = await PostAsync(node, """{"id":5,"method":"getblock","params":["0000000000000000000000000000000000000000000000000000000000000001"]}""");
        Assert.Equal("""{"result":null,"error":{"code":-5,"message":"Block not found"},"id":5}""", body.TrimEnd());
        Assert.Null(await node.Client.GetBlockHeaderAsync(new string('1', 64)));

        using var http = new HttpClient();
        var get = await http.GetAsync(node.Server.RpcUrl);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
    }

    [Fact]
    public async Task A_batch_gets_one_reply_per_request_in_order_and_named_parameters_work()
    {
        await using var node = await TestNode.StartAsync();
        var (status, body, _) = await PostAsync(node, """
            [{"jsonrpc":"1.0","id":1,"method":"getblockcount"},
             {"jsonrpc":"1.0","id":2,"method":"nosuchmethod"},
             {"jsonrpc":"1.0","id":3,"method":"getblockhash","params":{"height":0}},
             {"jsonrpc":"2.0","method":"getblockcount"}]
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        using var replies = JsonDocument.Parse(body);
        var items = replies.RootElement.EnumerateArray().ToList();
        Assert.Equal(3, items.Count);
        Assert.Equal(0, items[0].GetProperty("result").GetInt32());
        Assert.Equal(-32601, items[1].GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(Chain.Regtest.GenesisHashHex, items[2].GetProperty("result").GetString());

        (_, body, _) = await PostAsync(node, """{"id":9,"method":"getblockhash","params":{"hieght":0}}""");
        Assert.Contains("Unknown named parameter hieght", body);
    }

    [Fact]
    public async Task A_port_in_use_fails_the_start_naming_the_address_and_leaves_no_cookie()
    {
        using var occupied = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;
        var dataDir = TestNode.NewDataDir();
        try
        {
            var error = await Assert.ThrowsAsync<IOException>(() => TestNode.StartAsync(o => o.Rpc.Port = port, dataDir));
            Assert.Contains($"127.0.0.1:{port}", error.Message);
            Assert.False(File.Exists(Path.Combine(dataDir, "regtest", ".cookie")));
        }
        finally
        {
            TestNode.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public async Task Wallet_paths_are_served_like_the_root()
    {
        await using var node = await TestNode.StartAsync();
        var (status, body, _) = await PostAsync(node, """{"id":1,"method":"getblockcount"}""", path: "/wallet/miner");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"result\":0", body);
        (status, _, _) = await PostAsync(node, """{"id":1,"method":"getblockcount"}""", path: "/rest/chaininfo.json");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Stop_answers_and_then_stops_the_node_ending_long_polls()
    {
        var node = await TestNode.StartAsync();
        var template = await node.TemplateAsync();
        var poll = node.Client.GetBlockTemplateAsync(template.GetProperty("longpollid").GetString(), TimeSpan.FromSeconds(30));
        await Task.Delay(200);
        Assert.Equal("DevNode stopping", (await node.Client.CallAsync("stop")).GetString());
        await node.Server.Stopped.WaitAsync(TimeSpan.FromSeconds(10));
        // bitcoind ends a waiting long poll with RPC_CLIENT_NOT_CONNECTED "Shutting down".
        var ended = await Assert.ThrowsAsync<NodeRpcException>(() => poll.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(-9, ended.Code);
        Assert.Equal("Shutting down", ended.RpcMessage);
        await node.DisposeAsync();
    }
}
