using Grpc.Core;
using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Conformance;

/// <summary>
/// Handles request lines. Choices the spec leaves open, as in the Python and Go drivers: call i (1-based) of
/// <c>calls</c> &gt; 1 sends <c>x-conformance-case: CASE#i</c>; <c>concurrency</c> K runs the calls K at a time on
/// one client, results in call order; <c>shape</c> is always [N,1000]; a construction error gives one result
/// with its code; <c>ACTION_NONE</c> gives one OK result; <c>ACTION_METADATA</c> gives the model metadata as
/// <c>metadata</c> (its <c>requestId</c> empty: the public result type has none); a <c>session</c> client keeps the
/// settings of its first line, each line's metadata goes with that line's calls.
/// </summary>
internal sealed class Driver : IDisposable
{
    private const string CaseKey = "x-conformance-case";
    private readonly Dictionary<string, ScoringClient> _sessions = new(StringComparer.Ordinal);

    /// <summary>The answer to one request line; never throws.</summary>
    public async Task<Dp.DriverAnswer> AnswerAsync(string line)
    {
        var id = "";
        try
        {
            var request = Protocol.Parse<Dp.DriverRequest>(line);
            id = request.Id;
            var answer = new Dp.DriverAnswer { Id = id };
            answer.Results.AddRange(await HandleAsync(request));
            return answer;
        }
        catch (Exception e) when (e is BadRequestException or OverflowException)
        {
            return new Dp.DriverAnswer { Id = id, Error = $"bad request: {e.Message}" };
        }
        catch (Exception e)
        {
            return new Dp.DriverAnswer { Id = id, Error = $"driver failure: {e.GetType().Name}: {e.Message}" };
        }
    }

    public async Task<IReadOnlyList<Dp.CallResult>> HandleAsync(Dp.DriverRequest request)
    {
        var calls = request.Calls == 0 ? 1 : request.Calls;
        var concurrency = request.Concurrency == 0 ? 1 : request.Concurrency;
        var k = request.HasTopK ? request.TopK : 5;
        if (calls < 1 || concurrency < 1 || k < 0)
            throw new BadRequestException("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0");
        var work = Work.For(request, k);
        var metadata = request.Metadata.Select(p => new KeyValuePair<string, string>(p.Key.ToLowerInvariant(), p.Value)).ToList();
        var baseCase = metadata.LastOrDefault(p => p.Key == CaseKey).Value;
        var session = request.Session.Length > 0 ? request.Session : null;

        ScoringClient? client = null;
        if (session is not null) _sessions.TryGetValue(session, out client);
        if (client is null)
        {
            try
            {
                client = ClientBuilder.Create(request);
            }
            catch (ScoringException e)
            {
                return [Results.Failed(e)];
            }
            if (session is not null) _sessions[session] = client;
        }
        try
        {
            if (work is null) return [Results.Ok()];
            using var gate = new SemaphoreSlim(Math.Min(concurrency, calls));
            var tasks = Enumerable.Range(1, calls).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var headers = new Metadata();
                    foreach (var (key, value) in metadata)
                        headers.Add(key, key == CaseKey && calls > 1 ? $"{baseCase}#{i}" : value);
                    // cancel_after_ms: the caller cancels the call through its CancellationToken
                    using var cancel = request.CancelAfterMs > 0
                        ? new CancellationTokenSource(TimeSpan.FromMilliseconds(request.CancelAfterMs))
                        : new CancellationTokenSource();
                    return await Task.Run(() => work(client, headers, cancel.Token));
                }
                catch (Exception e)
                {
                    return Results.Failed(e);
                }
                finally
                {
                    gate.Release();
                }
            }).ToList();
            return await Task.WhenAll(tasks);
        }
        finally
        {
            if (session is null) client.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var client in _sessions.Values) client.Dispose();
    }
}
