using System.Collections;
using Microsoft.Extensions.Logging;

namespace PoolCluster.Hosting;

/// <summary>
/// The logging scope provider of the whole process: every log line gets the service name as its outermost scope
/// ("=> sserver" on the simple console, {"Service":"sserver"} in JSON), whatever thread or async flow logs it.
/// Other scopes nest per async flow, as with the default provider.
/// </summary>
internal sealed class ServiceNameScopeProvider(string serviceName) : IExternalScopeProvider
{
    private readonly AsyncLocal<Scope?> _current = new();
    private readonly ServiceScope _serviceScope = new(serviceName);

    public void ForEachScope<TState>(Action<object?, TState> callback, TState state)
    {
        callback(_serviceScope, state);
        Report(_current.Value);

        void Report(Scope? scope)
        {
            if (scope == null)
                return;
            Report(scope.Parent);
            callback(scope.State, state);
        }
    }

    public IDisposable Push(object? state)
    {
        var scope = new Scope(this, state, _current.Value);
        _current.Value = scope;
        return scope;
    }

    private sealed class Scope(ServiceNameScopeProvider provider, object? state, Scope? parent) : IDisposable
    {
        private bool _disposed;

        public object? State { get; } = state;

        public Scope? Parent { get; } = parent;

        public void Dispose()
        {
            if (_disposed)
                return;
            provider._current.Value = Parent;
            _disposed = true;
        }

        public override string? ToString() => State?.ToString();
    }

    private sealed class ServiceScope(string serviceName) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?> _service = new("Service", serviceName);

        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] =>
            index == 0 ? _service : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return _service;
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => (string)_service.Value!;
    }
}
