using Grpc.Core;

namespace FpgaScore;

public sealed partial class ScoringClient
{
    /// <summary>
    /// One logical call of any unary method of the service (<paramref name="method"/>, e.g. the stub's
    /// <c>PredictAsync</c>): attempts with the key in use, a secondary-key repeat, retries with backoff,
    /// all within the deadline.
    /// </summary>
    private async Task<(TResponse Response, string RequestId, int Attempts, Metadata Trailers)> InvokeAsync<TRequest, TResponse>(
        Func<TRequest, CallOptions, AsyncUnaryCall<TResponse>> method, TRequest request, Metadata? headers, DateTime? deadline,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (headers is not null && headers.Any(e => KeyRing.IsAuthorization(e.Key)))
            throw new ScoringException(StatusCode.InvalidArgument,
                "per-call metadata must not hold 'authorization': the client sends the key itself (AccessToken, AuthScheme)");
        var startedUtc = DateTime.UtcNow;
        var deadlineUtc = deadline?.ToUniversalTime() ?? startedUtc + _timeout;
        RetryDecider? retry = null; // made at the first failure: a call that succeeds at once allocates none
        int attempts = 0, counted = 0;
        bool failedOver = false;
        int startKey = _keys.Current;
        int key = startKey;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested) throw ErrorMapper.Cancelled();
            attempts++;
            counted++;
            var failuresBefore = _validator?.Failures ?? 0;
            using var call = method(request, new CallOptions(Headers(headers), deadlineUtc, cancellationToken, credentials: _keys.Credentials(key)));
            try
            {
                var response = await call.ResponseAsync.ConfigureAwait(false);
                var responseHeaders = await call.ResponseHeadersAsync.ConfigureAwait(false);
                // Only a call that failed over itself moves the client to the other key, and only from the key this
                // call started with: an older call still in flight on a revoked key must not switch the client back.
                if (failedOver) _keys.Prefer(startKey, key);
                var trailers = call.GetTrailers();
                var okId = ErrorMapper.RequestId(responseHeaders, trailers);
                ClientLog.Ended(_log, Target, StatusCode.OK, attempts, okId);
                return (response, okId, attempts, trailers);
            }
            catch (RpcException error)
            {
                var requestId = ErrorMapper.RequestId(HeadersOf(call), error.Trailers);
                if (error.StatusCode == StatusCode.Unauthenticated && _keys.HasSecondary && !failedOver)
                {
                    failedOver = true;
                    key = KeyRing.Other(key);
                    counted--; // the repeat with the other key is not a retry
                    ClientLog.FailedOver(_log, attempts, Target, requestId);
                    continue;
                }
                var failure = ErrorMapper.FromRpc(error, requestId, _keys, _validator, failuresBefore,
                    useSsl: _validator is not null, deadline: deadlineUtc - startedUtc);
                var sleep = ErrorMapper.NeverRetried(failure)
                    ? null // a refused certificate, or TLS on one side only, does not change by waiting
                    : (retry ??= new RetryDecider(_retryPolicy, deadlineUtc)).NextSleep(failure.StatusCode, error.Trailers, counted, DateTime.UtcNow);
                if (sleep is null)
                {
                    ClientLog.Ended(_log, Target, failure.StatusCode, attempts, requestId);
                    throw failure;
                }
                ClientLog.Retrying(_log, attempts, Target, failure.StatusCode, requestId, sleep.Value);
                try
                {
                    await Task.Delay(sleep.Value, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    throw ErrorMapper.Cancelled();
                }
            }
        }
    }

    /// <summary>The client's metadata, then the call's (neither holds <c>authorization</c>: both are refused earlier;
    /// the key goes as the call's credentials). Without per-call metadata or interceptors every call shares the
    /// client's own (null when empty): only grpc-dotnet reads it, and it does not change it. An interceptor may add to
    /// the metadata it is given, so with interceptors each call gets a copy of its own.</summary>
    private Metadata? Headers(Metadata? perCall)
    {
        if (perCall is null && !_intercepted) return _metadata.Count == 0 ? null : _metadata;
        var headers = new Metadata();
        foreach (var entry in _metadata) headers.Add(entry);
        if (perCall is not null)
            foreach (var entry in perCall) headers.Add(entry);
        return headers;
    }

    private static Metadata? HeadersOf<TResponse>(AsyncUnaryCall<TResponse> call)
    {
        var task = call.ResponseHeadersAsync;
        return task.IsCompletedSuccessfully ? task.Result : null;
    }
}
