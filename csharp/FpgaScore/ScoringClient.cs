using FpgaScore.V1;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace FpgaScore;

/// <summary>
/// Client of the image scoring service: one long-lived gRPC channel, the key on every call, retries,
/// deadlines, and decoding of the scores. Thread-safe; create one and reuse it; dispose it at the end.
/// </summary>
/// <example>
/// <code>
/// var client = new ScoringClient(host, 50051, useSSL, "authKey");
/// float[,] result;
/// using (var content = File.OpenRead(image))
/// {
///     IScoringRequest request = new ImageRequest(content);
///     result = client.Score&lt;float[,]&gt;(request);
/// }
/// </code>
/// </example>
public sealed partial class ScoringClient : IScoringClient
{
    private readonly GrpcChannel _channel;
    private readonly PredictionService.PredictionServiceClient _stub;
    private readonly KeyRing _keys;
    private readonly CertificateValidator? _validator;
    private readonly RequestSettings _settings;
    private readonly string _outputName;
    private readonly TimeSpan _timeout;
    private readonly RetryPolicy _retryPolicy;
    private readonly Metadata _metadata;
    private readonly CallInvoker _invoker;
    private readonly bool _intercepted;
    private readonly Microsoft.Extensions.Logging.ILogger _log;
    private int _disposed;

    /// <summary>The short form: host, port, TLS on or off, and an optional access key.</summary>
    /// <exception cref="ScoringException"><c>FailedPrecondition</c> for a key without TLS; <c>InvalidArgument</c> for a bad setting.</exception>
    public ScoringClient(string host, int port, bool useSsl = false, string? accessToken = null)
        : this(new ScoringClientOptions { Host = host, Port = port, UseSsl = useSsl, AccessToken = accessToken })
    {
    }

    /// <summary>A client with every option (see <see cref="ScoringClientOptions"/>).</summary>
    /// <exception cref="ScoringException"><c>FailedPrecondition</c> for a key without TLS (unless <see cref="ScoringClientOptions.AllowInsecureKey"/>); <c>InvalidArgument</c> for a bad setting.</exception>
    public ScoringClient(ScoringClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Check(options);
        _keys = new KeyRing(options.AccessToken, options.SecondaryAccessToken, options.AuthScheme);
        if (_keys.HasKey && !options.UseSsl && !options.AllowInsecureKey)
            throw new ScoringException(StatusCode.FailedPrecondition,
                "refusing to send an access key over a plaintext channel: set UseSsl = true, " +
                "or AllowInsecureKey = true for a trusted network or a local test server");
        try
        {
            options.RetryPolicy.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ScoringException(StatusCode.InvalidArgument, e.Message);
        }

        var channel = ChannelSettings.From(options);
        _validator = ChannelFactory.Validator(channel, options.RootCertificatesPem, options.RootCertificatesFile);
        _settings = new RequestSettings(options.ModelName, options.SignatureName, options.InputName) { OutputName = options.OutputName };
        _outputName = options.OutputName;
        _timeout = options.Timeout;
        _retryPolicy = options.RetryPolicy;
        _metadata = new Metadata();
        if (options.Metadata is not null)
            foreach (var entry in options.Metadata) _metadata.Add(entry);
        Target = ChannelFactory.Address(channel);
        _channel = ChannelFactory.Create(channel, _validator);
        _intercepted = options.Interceptors.Count > 0;
        _invoker = !_intercepted ? _channel.CreateCallInvoker()
            : _channel.Intercept([.. options.Interceptors]);
        _stub = new PredictionService.PredictionServiceClient(_invoker);
        _log = options.LoggerFactory?.CreateLogger(ClientLog.Category)
            ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The server's address, e.g. <c>https://scoring.example.com:50051/</c>.</summary>
    public Uri Target { get; }

    /// <summary>Scores a request and returns the scores as <typeparamref name="T"/>: <c>float[]</c> (one image),
    /// <c>float[,]</c> ([N,1000]) or <c>float[][]</c>.</summary>
    /// <param name="request">The request, e.g. an <see cref="ImageRequest"/> or a <see cref="FloatRequest"/>.</param>
    /// <param name="headers">Extra metadata for this call.</param>
    /// <param name="deadline">When the call (retries included) must end, UTC; default now + <see cref="ScoringClientOptions.Timeout"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ScoringException">The call failed; <see cref="ScoringException.RequestId"/> names it on the server.</exception>
    public T Score<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        ScoreAsync<T>(request, headers, deadline, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Scores a request asynchronously (see <see cref="Score{T}"/>).</summary>
    public async Task<T> ScoreAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        var (message, sent) = Prepare<T>(request);
        var call = await InvokeAsync(_stub.PredictAsync, message, headers, deadline, cancellationToken).ConfigureAwait(false);
        return Decoded<T>(call, sent).Scores;
    }

    /// <summary>Scores a request asynchronously with the client's default deadline.</summary>
    public Task<T> ScoreAsync<T>(IScoringRequest request, CancellationToken cancellationToken) =>
        ScoreAsync<T>(request, null, null, cancellationToken);

    /// <summary>Scores a request and also returns the output's shape, the server's request id and the attempts made.</summary>
    public async Task<ScoringResult<T>> ScoreWithDetailsAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null,
        CancellationToken cancellationToken = default)
    {
        var (message, sent) = Prepare<T>(request);
        var call = await InvokeAsync(_stub.PredictAsync, message, headers, deadline, cancellationToken).ConfigureAwait(false);
        var (scores, shape) = Decoded<T>(call, sent);
        return new ScoringResult<T>(scores, shape, call.RequestId, call.Attempts) { Trailers = call.Trailers };
    }

    /// <summary>The message a scoring call sends for <paramref name="request"/>, and the images it holds when it says.</summary>
    private (PredictRequest Message, int? Sent) Prepare<T>(IScoringRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Scores.EnsureSupported<T>();
        var message = request.BuildRequest(_settings) ?? throw new ScoringException(StatusCode.InvalidArgument, "BuildRequest returned null");
        Tensors.AddOutputFilter(message, _outputName);
        var sent = SentRows(message);
        if (typeof(T) == typeof(float[]) && sent is > 1)
            throw new ScoringException(StatusCode.InvalidArgument,
                $"the request holds {sent} images; float[] holds the scores of one: use float[,] or float[][] for a batch");
        return (message, sent);
    }

    /// <summary>The scores of a scoring call's answer as <typeparamref name="T"/>; a bad answer is the server's fault
    /// (<c>Internal</c>, with the call's request id and trailers).</summary>
    private (T Scores, long[] Shape) Decoded<T>((PredictResponse Response, string RequestId, int Attempts, Metadata Trailers) call, int? sent)
    {
        try
        {
            return Scores.DecodeAs<T>(call.Response, _outputName, sent);
        }
        catch (ScoringException e)
        {
            throw new ScoringException(e.StatusCode, e.Details, call.RequestId, call.Trailers);
        }
    }

    /// <summary>
    /// The low-level call: sends <paramref name="request"/> (with the key, metadata, retries and deadline) and returns the
    /// response. The request is sent as it is, except that one without <c>model_spec</c> gets the client's
    /// (<see cref="ScoringClientOptions.ModelName"/>, <see cref="ScoringClientOptions.SignatureName"/>); the
    /// caller's message is never modified. <see cref="Scores.Decode"/> reads the scores of the response.
    /// </summary>
    public async Task<PredictResponse> PredictAsync(PredictRequest request, Metadata? headers = null, DateTime? deadline = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ModelSpec is null)
        {
            request = request.Clone();
            request.ModelSpec = new ModelSpec { Name = _settings.ModelName, SignatureName = _settings.SignatureName };
        }
        return (await InvokeAsync(_stub.PredictAsync, request, headers, deadline, cancellationToken).ConfigureAwait(false)).Response;
    }

    /// <summary>
    /// The served model's name, version and signature (its inputs' and outputs' names, dtypes and shapes), from TF
    /// Serving's <c>GetModelMetadata</c> for <see cref="ScoringClientOptions.ModelName"/>; the signature described is
    /// <see cref="ScoringClientOptions.SignatureName"/>. Sent with the same key, secondary-key failover, retries and
    /// deadline as a scoring call.
    /// </summary>
    /// <param name="headers">Extra metadata for this call.</param>
    /// <param name="deadline">When the call (retries included) must end, UTC; default now + <see cref="ScoringClientOptions.Timeout"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ScoringException">The call failed (e.g. <c>NotFound</c> for a model the server does not serve), or
    /// <c>Internal</c> for an answer without the signature (no <c>signature_def</c>, another type, bytes that do not
    /// parse, no signature called <see cref="ScoringClientOptions.SignatureName"/>); <see cref="ScoringException.RequestId"/>
    /// names the call on the server.</exception>
    public ModelMetadata GetModelMetadata(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        GetModelMetadataAsync(headers, deadline, cancellationToken).GetAwaiter().GetResult();

    /// <summary>The served model's metadata, asynchronously (see <see cref="GetModelMetadata"/>).</summary>
    /// <param name="headers">Extra metadata for this call.</param>
    /// <param name="deadline">When the call (retries included) must end, UTC; default now + <see cref="ScoringClientOptions.Timeout"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ScoringException">As for <see cref="GetModelMetadata"/>.</exception>
    public async Task<ModelMetadata> GetModelMetadataAsync(Metadata? headers = null, DateTime? deadline = null,
        CancellationToken cancellationToken = default)
    {
        var request = ModelMetadataCodec.Request(_settings.ModelName);
        var (response, requestId, _, _) = await InvokeAsync(_stub.GetModelMetadataAsync, request, headers, deadline, cancellationToken)
            .ConfigureAwait(false);
        return ModelMetadataCodec.Decode(response, _settings.SignatureName, requestId);
    }

    /// <summary>The served model's metadata, asynchronously, with the client's default deadline.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ModelMetadata> GetModelMetadataAsync(CancellationToken cancellationToken) =>
        GetModelMetadataAsync(null, null, cancellationToken);

    /// <summary>Closes the channel. Calls in flight are cancelled.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _channel.Dispose();
    }

    /// <summary>The number of images <paramref name="message"/> sends (the first dimension of its input), when it says.</summary>
    private int? SentRows(PredictRequest message)
    {
        if (!message.Inputs.TryGetValue(_settings.InputName, out var input)) return null;
        var dims = input.TensorShape?.Dim;
        if (dims is null || dims.Count == 0 || dims[0].Size is < 0 or > int.MaxValue) return null;
        return (int)dims[0].Size;
    }

    /// <summary>The target and settings, never a key.</summary>
    public override string ToString() => $"ScoringClient({Target}, keys={_keys}, timeout={_timeout})";

    private static void Check(ScoringClientOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Host))
            throw new ScoringException(StatusCode.InvalidArgument, "Host must not be empty");
        if (options.Port is < 1 or > 65535)
            throw new ScoringException(StatusCode.InvalidArgument, $"Port must be in 1..65535, not {options.Port}");
        if (options.Timeout <= TimeSpan.Zero)
            throw new ScoringException(StatusCode.InvalidArgument, "Timeout must be > 0");
        if (options.MaxResponseBytes <= 0)
            throw new ScoringException(StatusCode.InvalidArgument, $"MaxResponseBytes must be > 0, not {options.MaxResponseBytes}");
        if (options.RetryPolicy is null)
            throw new ScoringException(StatusCode.InvalidArgument, "RetryPolicy must not be null");
        if (string.IsNullOrEmpty(options.InputName) || string.IsNullOrEmpty(options.OutputName) || string.IsNullOrEmpty(options.ModelName))
            throw new ScoringException(StatusCode.InvalidArgument, "InputName, OutputName and ModelName must not be empty");
        if (!options.UseSsl)
        {
            // As the Python client does: settings that only mean something with TLS are a mistake without it.
            var tlsOnly = new[]
            {
                (Name: nameof(options.RootCertificatesPem), Set: options.RootCertificatesPem is not null),
                (Name: nameof(options.RootCertificatesFile), Set: options.RootCertificatesFile is not null),
                (Name: nameof(options.ServerNameOverride), Set: options.ServerNameOverride is not null),
            }.Where(o => o.Set).Select(o => o.Name).ToArray();
            if (tlsOnly.Length > 0)
                throw new ScoringException(StatusCode.InvalidArgument,
                    $"{string.Join(", ", tlsOnly)} only appl{(tlsOnly.Length == 1 ? "ies" : "y")} with TLS: set UseSsl, or leave {(tlsOnly.Length == 1 ? "it" : "them")} unset");
        }
        if (options.Metadata is not null && options.Metadata.Any(e => KeyRing.IsAuthorization(e.Key)))
            throw new ScoringException(StatusCode.InvalidArgument,
                "Metadata must not hold 'authorization': the client sends the key itself (AccessToken, AuthScheme)");
    }
}
