using FpgaScore.Tests.Infrastructure;
using FpgaScore.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore.Tests;

/// <summary>The two C# snippets of the service's documentation and the model metadata one of FpgaScore/README.md, against the reference server.</summary>
[Collection(EnvironmentCollection.Name)]
public class DocumentedSnippetTests
{
    [Fact]
    public async Task ScoringClientSnippetWorksOverTls()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var roots = new EnvironmentVariable("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", Servers.Pki.CaFile);
        string host = "localhost", image = RepoPaths.Image("gradient.jpg");
        bool useSSL = true;
        int port = server.Port;

        // The service documentation's original snippet, verbatim but for the port and the key.
        var client = new ScoringClient(host, port, useSSL, Servers.PrimaryKey);
        float[,] result;
        using (var content = File.OpenRead(image))
        {
            IScoringRequest request = new ImageRequest(content);
            result = client.Score<float[,]>(request);
        }

        Assert.Equal(1, result.GetLength(0));
        Assert.Equal(1000, result.GetLength(1));
        Assert.Equal(Golden.Top1("gradient.jpg"), Predictions.TopK(result, 1)[0][0].ClassId);
        client.Dispose();
    }

    [Fact]
    public async Task ScoringClientSnippetWorksOverPlaintextWithoutKey()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = new ScoringClient("127.0.0.1", server.Port, false, null);
        using var content = File.OpenRead(RepoPaths.Image("rings.jpg"));
        var result = client.Score<float[]>(new ImageRequest(content));
        Assert.Equal(1000, result.Length);
        Assert.Equal(Golden.Top1("rings.jpg"), Predictions.TopK(result, 1)[0].ClassId);
    }

    [Fact]
    public async Task ModelMetadataSnippetWorks()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var roots = new EnvironmentVariable("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", Servers.Pki.CaFile);
        string host = "localhost", key = Servers.PrimaryKey;
        var output = new StringWriter();

        // The snippet of FpgaScore/README.md (tests/docs/test_snippets.py runs it as written), here with the host's key and a console of its own.
        using var client = new ScoringClient(new ScoringClientOptions { Host = host, Port = server.Port, UseSsl = true, AccessToken = key });
        ModelMetadata model = await client.GetModelMetadataAsync(deadline: DateTime.UtcNow.AddSeconds(3));
        output.WriteLine($"{model.ModelName} version {model.Version?.ToString() ?? "?"}, signature {model.SignatureName}");
        foreach (TensorSpec spec in model.Outputs)                         // features, output_alias (ordinal name order)
            output.WriteLine($"  {spec.Name}: {spec.DataType} [{string.Join(",", spec.Shape)}]");
        long classes = model.Output("output_alias").Shape[^1];             // 1000; -1 is a dimension of any size

        Assert.Equal(1000, classes);
        Assert.Equal("resnet50 version 1, signature serving_default\n  features: DT_FLOAT [-1,2048]\n  output_alias: DT_FLOAT [-1,1000]\n",
            output.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task GeneratedStubWithChannelCredentialsSnippetWorks()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        var validator = new CertificateValidator(TlsRoots.Resolve(Servers.Pki.CaPem, null), "localhost");
        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = validator.ChainPolicy;
        handler.SslOptions.RemoteCertificateValidationCallback = validator.Validate;
        var baseCreds = new SslCredentials();

        // The documented pattern: the key added by call credentials on every call.
        var credentials = ChannelCredentials.Create(baseCreds, CallCredentials.FromInterceptor(async (context, metadata) =>
        {
            metadata.Add(new Metadata.Entry("authorization", Servers.PrimaryKey));
            await Task.CompletedTask;
        }));
        using var channel = GrpcChannel.ForAddress($"https://localhost:{server.Port}",
            new GrpcChannelOptions { Credentials = credentials, HttpHandler = handler });
        var stub = new PredictionService.PredictionServiceClient(channel);

        var request = new ImageRequest(Clients.ImageBytes()).BuildRequest(RequestSettings.Default);
        var response = await stub.PredictAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
        var (values, shape) = Scores.Decode(response);
        Assert.Equal([1L, 1000], shape);
        Assert.Equal(Golden.Top1("gradient.jpg"), Predictions.TopK(values, 1)[0].ClassId);

        // Without the call credentials the server refuses the call.
        using var bare = GrpcChannel.ForAddress($"https://localhost:{server.Port}",
            new GrpcChannelOptions { Credentials = baseCreds, HttpHandler = new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = validator.ChainPolicy, RemoteCertificateValidationCallback = validator.Validate } } });
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            new PredictionService.PredictionServiceClient(bare).PredictAsync(request, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }
}
