using System.Text.Json.Nodes;
using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>
/// Handles request lines. Choices the spec leaves open, as in the Python and Go drivers: call i (1-based) of
/// <c>calls</c> &gt; 1 sends <c>x-conformance-case: CASE#i</c>; <c>concurrency</c> K runs the calls K at a time on
/// one client, results in call order; <c>shape</c> is always [N,1000]; a construction error gives one result
/// with its code; <c>action: none</c> gives one OK result; <c>action: metadata</c> gives the model metadata as
/// <c>metadata</c> (its <c>request_id</c> empty: the public result type has none); a <c>session</c> client keeps the settings of its
/// first line, each line's metadata goes with that line's calls.
/// </summary>
internal sealed class Driver : IDisposable
{
    private const string CaseKey = "x-conformance-case";
    private readonly Dictionary<string, ScoringClient> _sessions = new(StringComparer.Ordinal);

    public async Task<JsonArray> HandleAsync(DriverRequest request)
    {
        var action = request.String("action") ?? "images";
        var calls = request.Integer("calls") ?? 1;
        var concurrency = request.Integer("concurrency") ?? 1;
        var k = request.Integer("top_k") ?? 5;
        if (calls < 1 || concurrency < 1 || k < 0)
            throw new BadRequestException("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0");
        var work = Work.For(request, action, checked((int)k));
        var metadata = request.Metadata();
        var baseCase = metadata.LastOrDefault(p => p.Key == CaseKey).Value;
        var session = request.String("session");

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
            using var gate = new SemaphoreSlim((int)Math.Min(concurrency, calls));
            var tasks = Enumerable.Range(1, (int)calls).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var headers = new Metadata();
                    foreach (var (key, value) in metadata)
                        headers.Add(key, key == CaseKey && calls > 1 ? $"{baseCase}#{i}" : value);
                    return await Task.Run(() => work(client, headers));
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
            var results = await Task.WhenAll(tasks);
            return new JsonArray(results.Select(r => (JsonNode)r).ToArray());
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
