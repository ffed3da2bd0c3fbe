using System.Collections.Concurrent;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace FpgaScore.Tests;

/// <summary>The client's hooks: its log lines through an ILoggerFactory, gRPC interceptors on every attempt, a wrapper
/// around its HTTP handler, and its User-Agent — against the reference server.</summary>
public class DiagnosticsTests
{
    private sealed class Lines : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> All { get; } = new();

        public ConcurrentQueue<string> Categories { get; } = new();

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Enqueue(categoryName);
            return this;
        }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            All.Enqueue($"{logLevel} {formatter(state, exception)}");
    }

    private sealed class Counting : Interceptor
    {
        public ConcurrentQueue<string> Calls { get; } = new();

        public string Name { get; init; } = "";

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            Calls.Enqueue($"{Name}:{context.Method.Name}");
            return continuation(request, context);
        }
    }

    /// <summary>Adds an entry to the metadata it is given, as a tracing interceptor does (a new Metadata when there is none).</summary>
    private sealed class Adding : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            var headers = context.Options.Headers ?? new Metadata();
            headers.Add("x-trace", "1");
            return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers)));
        }
    }

    /// <summary>Records the metadata entries each call reaches it with.</summary>
    private sealed class Seeing : Interceptor
    {
        public ConcurrentQueue<string> Headers { get; } = new();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            Headers.Enqueue(string.Join(",", (context.Options.Headers ?? []).Select(e => e.Key)));
            return continuation(request, context);
        }
    }

    private sealed class Recording : DelegatingHandler
    {
        public ConcurrentQueue<string> UserAgents { get; } = new();

        public Recording(HttpMessageHandler inner) => InnerHandler = inner;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            UserAgents.Enqueue(request.Headers.UserAgent.ToString());
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task LogsFailoverRetryAndTheEndWithoutAKey()
    {
        using var lines = new Lines();
        using var client = await Clients.SecureAsync(o =>
        {
            o.AccessToken = "revoked-key-for-the-log-test";
            o.SecondaryAccessToken = Servers.SecondaryKey;
            o.RetryPolicy = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(50) };
            o.LoggerFactory = lines;
        });
        var caseId = Clients.NewCase("log");
        var result = await client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            Clients.Case(caseId, ("x-conformance-fail", "2:UNAVAILABLE")));
        var mine = lines.All.Where(l => l.Contains("fpgascore:", StringComparison.Ordinal)).ToList();
        Assert.Contains(mine, l => l.StartsWith("Information", StringComparison.Ordinal) && l.Contains("UNAUTHENTICATED", StringComparison.Ordinal)
                                   && l.Contains("other key", StringComparison.Ordinal));
        Assert.Contains(mine, l => l.Contains("failed with UNAVAILABLE", StringComparison.Ordinal) && l.Contains("retrying", StringComparison.Ordinal));
        Assert.Contains(mine, l => l.StartsWith("Debug", StringComparison.Ordinal)
                                   && l.Contains($"ended OK after {result.Attempts} attempt(s) (request-id {result.RequestId})", StringComparison.Ordinal));
        Assert.Contains("FpgaScore.ScoringClient", lines.Categories);
        Assert.DoesNotContain(lines.All, l => l.Contains("revoked-key", StringComparison.Ordinal) || l.Contains(Servers.SecondaryKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnInterceptorAddingToTheMetadataChangesItsOwnCallOnly()
    {
        var seeing = new Seeing();
        var metadata = new Metadata { { "x-client", "1" } };
        using var client = await Clients.SecureAsync(o =>
        {
            o.Metadata = metadata;
            o.Interceptors.Add(new Adding());
            o.Interceptors.Add(seeing);
        });
        for (int i = 0; i < 3; i++)
            await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()));
        Assert.Equal(["x-client,x-trace", "x-client,x-trace", "x-client,x-trace"], seeing.Headers);
        Assert.Single(metadata);
    }

    [Fact]
    public async Task InterceptorsSeeEveryAttemptInOrderAndTheHandlerHookSeesTheUserAgent()
    {
        var outer = new Counting { Name = "outer" };
        var inner = new Counting { Name = "inner" };
        Recording? recording = null;
        using var client = await Clients.SecureAsync(o =>
        {
            o.Interceptors.Add(outer);
            o.Interceptors.Add(inner);
            o.ConfigureHttpHandler = handler => recording = new Recording(handler);
            o.RetryPolicy = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(50) };
        });
        await client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            Clients.Case(Clients.NewCase("intercept"), ("x-conformance-fail", "1:UNAVAILABLE")));
        Assert.Equal(["outer:Predict", "outer:Predict"], outer.Calls);
        Assert.Equal(["inner:Predict", "inner:Predict"], inner.Calls);
        Assert.NotNull(recording);
        Assert.NotEmpty(recording.UserAgents);
        Assert.All(recording.UserAgents, ua => Assert.StartsWith("fpgascore-csharp/", ua, StringComparison.Ordinal));
        Assert.All(recording.UserAgents, ua => Assert.Contains("grpc-dotnet/", ua, StringComparison.Ordinal));
    }
}

/// <summary>Code written against <see cref="IScoringClient"/> runs on a fake as on the real client.</summary>
public class MockableTests
{
    private sealed class FakeClient : IScoringClient
    {
        public Uri Target { get; } = new("http://fake:1/");

        public T Score<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
            throw new ScoringException(StatusCode.Unavailable, "the fake is down");

        public Task<T> ScoreAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
            Task.FromResult((T)(object)new float[1000]);

        public Task<T> ScoreAsync<T>(IScoringRequest request, CancellationToken cancellationToken) => ScoreAsync<T>(request, null, null, cancellationToken);

        public Task<ScoringResult<T>> ScoreWithDetailsAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<V1.PredictResponse> PredictAsync(V1.PredictRequest request, Metadata? headers = null, DateTime? deadline = null,
            CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ModelMetadata GetModelMetadata(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<ModelMetadata> GetModelMetadataAsync(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<ModelMetadata> GetModelMetadataAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<string> CheckHealthAsync(string service = "", CancellationToken cancellationToken = default) => Task.FromResult(HealthStatus.NotServing);

        public string CheckHealth(string service = "", CancellationToken cancellationToken = default) => HealthStatus.NotServing;

        public void Dispose()
        {
        }
    }

    // What an application might write: it only knows the interface.
    private static async Task<string> Describe(IScoringClient client, byte[] image) =>
        await client.CheckHealthAsync() == HealthStatus.Serving
            ? $"top class {Predictions.TopK(await client.ScoreAsync<float[]>(new ImageRequest(image)), 1)[0].ClassId}"
            : "not serving";

    [Fact]
    public async Task TheInterfaceServesTheRealClientAndAFake()
    {
        using var fake = new FakeClient();
        Assert.Equal("not serving", await Describe(fake, Infrastructure.Clients.ImageBytes()));
        using IScoringClient real = await Infrastructure.Clients.SecureAsync();
        Assert.StartsWith("top class ", await Describe(real, Infrastructure.Clients.ImageBytes()), StringComparison.Ordinal);
    }
}

/// <summary>Top-k as in the other clients: 5 by default, ties to the lower class id, none for k &lt;= 0.</summary>
public class TopKTests
{
    [Fact]
    public void DefaultsTiesAndNonPositiveK()
    {
        var scores = new float[1000];
        scores[7] = 0.5f;
        scores[3] = 0.5f;
        scores[999] = 0.9f;
        var top = Predictions.TopK(scores);
        Assert.Equal(Predictions.DefaultTopK, top.Count);
        Assert.Equal([999, 3, 7, 0, 1], top.Select(p => p.ClassId));
        Assert.Empty(Predictions.TopK(scores, 0));
        Assert.Empty(Predictions.TopK(scores, -1));
    }
}
