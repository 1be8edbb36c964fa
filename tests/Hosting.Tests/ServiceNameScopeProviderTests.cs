namespace PoolCluster.Hosting.Tests;

public sealed class ServiceNameScopeProviderTests
{
    [Fact]
    public async Task TheServiceNameIsTheOutermostScope_InEveryFlow()
    {
        var provider = new ServiceNameScopeProvider("jobmaker");

        Assert.Equal(["jobmaker"], Scopes(provider));
        using (provider.Push("request 1"))
        {
            using (provider.Push("inner"))
                Assert.Equal(["jobmaker", "request 1", "inner"], Scopes(provider));
            Assert.Equal(["jobmaker", "request 1"], Scopes(provider));
            // Work that does not inherit this flow (a thread pool item queued without its execution context) does
            // not see its scopes, but still logs under the service name.
            Task<List<string?>> unrelated;
            using (ExecutionContext.SuppressFlow())
                unrelated = Task.Run(() => Scopes(provider));
            Assert.Equal(["jobmaker"], await unrelated);
        }
        Assert.Equal(["jobmaker"], Scopes(provider));

        var service = Assert.IsAssignableFrom<IReadOnlyList<KeyValuePair<string, object?>>>(FirstScope(provider));
        Assert.Equal(new KeyValuePair<string, object?>("Service", "jobmaker"), Assert.Single(service));
    }

    private static List<string?> Scopes(ServiceNameScopeProvider provider)
    {
        var scopes = new List<string?>();
        provider.ForEachScope((scope, list) => list.Add(scope?.ToString()), scopes);
        return scopes;
    }

    private static object? FirstScope(ServiceNameScopeProvider provider)
    {
        object? first = null;
        provider.ForEachScope((scope, _) => first ??= scope, 0);
        return first;
    }
}
