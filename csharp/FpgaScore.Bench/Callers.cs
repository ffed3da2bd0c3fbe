using System.Buffers.Binary;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FpgaScore.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore.Bench;

/// <summary>One scoring call of the benchmark; shared by all workers, so thread-safe.</summary>
internal interface ICaller : IDisposable
{
    /// <summary>Makes one call and decodes the scores; throws on any failure.</summary>
    Task CallAsync(CancellationToken cancellationToken);
}

/// <summary>Makes the caller of one mode.</summary>
internal static class Callers
{
    /// <summary>The modes <see cref="Create"/> knows.</summary>
    public static readonly IReadOnlyList<string> Modes = ["client", "stub"];

    /// <summary>A new caller with its own client or channel: "client" (the public API) or "stub" (the generated stub).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not one of <see cref="Modes"/>.</exception>
    public static ICaller Create(string mode, Plan o, Payload payload) => mode switch
    {
        "client" => new ClientCaller(o, payload),
        "stub" => new StubCaller(o, payload),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "expected client or stub"),
    };
}

/// <summary>The request contents, built once from the plan.</summary>
internal sealed class Payload
{
    public const int Height = 224, Width = 224, Channels = 3;

    private Payload(string kind, byte[] image)
    {
        Kind = kind;
        Rows = kind == "batch8" ? 8 : 1;
        // Distinct copies: a batch is that many images in memory (the same array eight times would stay in the CPU cache).
        Images = kind == "tensor" ? [] : Enumerable.Range(0, Rows).Select(_ => (byte[])image.Clone()).ToArray();
    }

    public string Kind { get; }
    /// <summary>The images one request sends (jpeg, batch8): <see cref="Rows"/> distinct arrays.</summary>
    public byte[][] Images { get; }
    /// <summary>Images in one request (rows of the scores).</summary>
    public int Rows { get; }

    public static Payload Load(string kind, string imagePath) =>
        new(kind, kind == "tensor" ? [] : File.ReadAllBytes(imagePath));

    /// <summary>The [1,224,224,3] tensor, all 0.5.</summary>
    public static float[] Tensor()
    {
        var values = new float[Height * Width * Channels];
        Array.Fill(values, 0.5f);
        return values;
    }
}

/// <summary>The public API: one <see cref="ScoringClient"/>, retries off, <c>ScoreAsync&lt;float[,]&gt;</c>.</summary>
internal sealed class ClientCaller : ICaller
{
    private readonly ScoringClient _client;
    private readonly IScoringRequest _request;
    private readonly int _rows;

    public ClientCaller(Plan o, Payload payload)
    {
        _client = new ScoringClient(new ScoringClientOptions
        {
            Host = o.Host,
            Port = o.Port,
            UseSsl = o.Tls,
            RootCertificatesFile = o.Ca,
            AccessToken = o.Key,
            RetryPolicy = RetryPolicy.NoRetries,
        });
        _rows = payload.Rows;
        _request = payload.Kind switch
        {
            "jpeg" or "batch8" => new ImageRequest(payload.Images),
            _ => new FloatRequest(Payload.Tensor(), 1, Payload.Height, Payload.Width, Payload.Channels),
        };
    }

    public async Task CallAsync(CancellationToken cancellationToken)
    {
        var scores = await _client.ScoreAsync<float[,]>(_request, cancellationToken).ConfigureAwait(false);
        if (scores.GetLength(0) != _rows || scores.GetLength(1) == 0)
            throw new InvalidDataException($"scores of shape [{scores.GetLength(0)},{scores.GetLength(1)}], expected [{_rows},C]");
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>
/// The raw generated stub on one <see cref="GrpcChannel"/>, hand decoding, and a hand-built request
/// for every call, as the client builds one per call from its <see cref="IScoringRequest"/>. The bytes
/// are copied into ByteStrings once, up front, as the client's request objects do on construction.
/// </summary>
internal sealed class StubCaller : ICaller
{
    private const string OutputName = "output_alias";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly GrpcChannel _channel;
    private readonly PredictionService.PredictionServiceClient _stub;
    private readonly Payload _payload;
    private readonly ByteString _content;
    private readonly ByteString[] _images;
    private readonly int _rows;
    private readonly Metadata? _headers;

    public StubCaller(Plan o, Payload payload)
    {
        _channel = Channel(o);
        _stub = new PredictionService.PredictionServiceClient(_channel);
        _rows = payload.Rows;
        _payload = payload;
        _content = payload.Kind == "tensor" ? TensorContent() : ByteString.Empty;
        _images = payload.Images.Select(image => ByteString.CopyFrom(image)).ToArray();
        _headers = o.Key is null ? null : new Metadata { { "authorization", o.Key } };
    }

    public async Task CallAsync(CancellationToken cancellationToken)
    {
        var response = await _stub.PredictAsync(Request(), headers: _headers, deadline: DateTime.UtcNow + Timeout,
                cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var scores = Decode(response);
        if (scores.Length == 0 || scores.Length % _rows != 0)
            throw new InvalidDataException($"{scores.Length} scores do not make {_rows} rows");
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>The [1,224,224,3] tensor as little-endian float32 bytes.</summary>
    private static ByteString TensorContent()
    {
        var values = Payload.Tensor();
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    private PredictRequest Request()
    {
        var input = new TensorProto { TensorShape = new TensorShapeProto() };
        if (_payload.Kind == "tensor")
        {
            input.Dtype = DataType.DtFloat;
            foreach (var d in new long[] { 1, Payload.Height, Payload.Width, Payload.Channels })
                input.TensorShape.Dim.Add(new TensorShapeProto.Types.Dim { Size = d });
            input.TensorContent = _content;
        }
        else
        {
            input.Dtype = DataType.DtString;
            input.TensorShape.Dim.Add(new TensorShapeProto.Types.Dim { Size = _rows });
            input.StringVal.Add(_images);
        }
        var request = new PredictRequest
        {
            ModelSpec = new ModelSpec { Name = "resnet50", SignatureName = "serving_default" },
        };
        request.Inputs.Add("images", input);
        return request;
    }

    /// <summary>The output's floats: little-endian <c>tensor_content</c>, else <c>float_val</c>.</summary>
    private static float[] Decode(PredictResponse response)
    {
        if (!response.Outputs.TryGetValue(OutputName, out var output))
            throw new InvalidDataException($"the response has no output '{OutputName}'");
        if (output.Dtype != DataType.DtFloat)
            throw new InvalidDataException($"output '{OutputName}' is {output.Dtype}, expected DT_FLOAT");
        var content = output.TensorContent.Span;
        if (content.IsEmpty) return output.FloatVal.ToArray();
        if (content.Length % sizeof(float) != 0)
            throw new InvalidDataException($"tensor_content of {content.Length} bytes is not whole float32s");
        if (BitConverter.IsLittleEndian) return MemoryMarshal.Cast<byte, float>(content).ToArray();
        var values = new float[content.Length / sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(content[(i * sizeof(float))..]);
        return values;
    }

    /// <summary>Like the library's channel: TLS with the system's roots, or with the plan's CA as the only root (CustomRootTrust).</summary>
    private static GrpcChannel Channel(Plan o)
    {
        var sockets = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = System.Threading.Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = true,
        };
        if (o.Tls && o.Ca is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(o.Ca);
            if (roots.Count == 0) throw new ArgumentException($"the CA {o.Ca} holds no PEM certificate");
            sockets.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, presented, _) => Trusted(certificate, presented, roots, o.Host),
            };
        }
        return GrpcChannel.ForAddress(new UriBuilder(o.Tls ? "https" : "http", o.Host, o.Port).Uri, new GrpcChannelOptions
        {
            HttpHandler = sockets,
            DisposeHttpClient = true,
            Credentials = o.Tls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
            MaxSendMessageSize = 64 * 1024 * 1024,
        });
    }

    private static bool Trusted(X509Certificate? certificate, X509Chain? presented, X509Certificate2Collection roots, string expectedName)
    {
        if (certificate is null) return false;
        using var leaf = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(roots);
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                policy.ExtraStore.Add(element.Certificate);
        return chain.Build(leaf) && leaf.MatchesHostname(expectedName);
    }
}
