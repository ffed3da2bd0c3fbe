using System.Security.Cryptography;
using System.Text;
using FpgaScore.Tests.Infrastructure;
using FpgaScore.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore.Tests;

/// <summary>
/// GetModelMetadata and the model spec as TF Serving answers them: against the reference server, and the decoding of
/// answers the reference server never gives (the tests have no fake server, so through the internal decoder).
/// </summary>
public class ModelMetadataTests
{
    private static readonly RetryPolicy Fast = new() { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(50) };

    private static string Fingerprint(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..16];

    private static void AssertServedSignature(ModelMetadata metadata)
    {
        Assert.Equal("resnet50", metadata.ModelName);
        Assert.Equal(1L, metadata.Version);
        Assert.Equal("serving_default", metadata.SignatureName);
        var input = Assert.Single(metadata.Inputs);
        Assert.Equal(("images", "DT_STRING"), (input.Name, input.DataType));
        Assert.Equal([-1L], input.Shape);
        Assert.Equal(["features", "output_alias"], metadata.Outputs.Select(o => o.Name));
        Assert.All(metadata.Outputs, o => Assert.Equal("DT_FLOAT", o.DataType));
        Assert.Equal([-1L, 2048], metadata.Outputs[0].Shape);
        Assert.Equal([-1L, 1000], metadata.Outputs[1].Shape);
    }

    // -- against the reference server ---------------------------------------------------------------------------

    [Fact]
    public async Task MetadataDescribesTheServedSignatureOverTlsWithAKey()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = await Clients.SecureAsync();
        var caseId = Clients.NewCase("metadata-tls");
        var metadata = await client.GetModelMetadataAsync(Clients.Case(caseId));
        AssertServedSignature(metadata);
        Assert.Equal([-1L, 1000], metadata.Output("output_alias").Shape);
        Assert.Equal("DT_STRING", metadata.Input("images").DataType);
        var call = Assert.Single(await server.CallsAsync(caseId, 1));
        Assert.Equal("get_model_metadata", call.GetProperty("event").GetString());
        Assert.Equal(Fingerprint(Servers.PrimaryKey), call.GetProperty("authorization_sha256").GetString());
    }

    [Fact]
    public async Task TheSyncCallAndTheTokenOverloadGiveTheSameMetadata()
    {
        using var client = await Clients.PlainAsync();
        var sync = client.GetModelMetadata();
        AssertServedSignature(sync);
        Assert.Equal(sync, await client.GetModelMetadataAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AWrongKeyIsUnauthenticatedAndNotRetried()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o => o.AccessToken = "not-a-key");
        var caseId = Clients.NewCase("metadata-wrong-key");
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.GetModelMetadataAsync(Clients.Case(caseId)));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        Assert.DoesNotContain("not-a-key", error.ToString());
        await Task.Delay(300);
        Assert.Single(server.Calls(caseId));
    }

    [Fact]
    public async Task TheSecondaryKeyTakesOver()
    {
        var server = await Servers.GetAsync(ServerKind.Secure);
        using var client = Clients.For(server, o =>
        {
            o.AccessToken = "revoked-old-key";
            o.SecondaryAccessToken = Servers.SecondaryKey;
            o.RetryPolicy = RetryPolicy.NoRetries;
        });
        var caseId = Clients.NewCase("metadata-failover");
        AssertServedSignature(await client.GetModelMetadataAsync(Clients.Case(caseId)));
        var calls = await server.CallsAsync(caseId, 2);
        Assert.Equal([Fingerprint("revoked-old-key"), Fingerprint(Servers.SecondaryKey)],
            calls.Select(c => c.GetProperty("authorization_sha256").GetString()));
    }

    [Fact]
    public async Task InjectedUnavailableIsRetried()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.RetryPolicy = Fast);
        var caseId = Clients.NewCase("metadata-retry");
        AssertServedSignature(await client.GetModelMetadataAsync(Clients.Case(caseId, ("x-conformance-fail", "2:UNAVAILABLE"))));
        Assert.Equal(3, (await server.CallsAsync(caseId, 3)).Count);
    }

    [Fact]
    public async Task ThePerCallDeadlineBoundsTheCall()
    {
        using var client = await Clients.PlainAsync();
        var error = await Assert.ThrowsAsync<ScoringException>(() => client.GetModelMetadataAsync(
            Clients.Case(Clients.NewCase("metadata-deadline"), ("x-conformance-delay-ms", "2000")), DateTime.UtcNow.AddMilliseconds(200)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task AnUnknownModelIsNotFoundForScoringAndMetadata()
    {
        using var client = await Clients.PlainAsync(o => o.ModelName = "inception");
        var scoring = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        var metadata = await Assert.ThrowsAsync<ScoringException>(() => client.GetModelMetadataAsync());
        foreach (var error in new[] { scoring, metadata })
        {
            Assert.Equal(StatusCode.NotFound, error.StatusCode);
            Assert.Contains("Servable not found for request: Latest(inception)", error.Details);
            Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        }
    }

    [Fact]
    public async Task AnUnknownSignatureIsInvalidArgumentForScoringAndInternalForMetadata()
    {
        using var client = await Clients.PlainAsync(o => o.SignatureName = "classify");
        var scoring = await Assert.ThrowsAsync<ScoringException>(() => client.ScoreAsync<float[]>(new ImageRequest(Clients.ImageBytes())));
        Assert.Equal(StatusCode.InvalidArgument, scoring.StatusCode);
        Assert.Contains("Serving signature name: \"classify\" not found in signature def", scoring.Details);
        Assert.Matches("^[0-9a-f]{32}$", scoring.RequestId);

        // The server describes the model's signatures; the one the client would use is not among them.
        var metadata = await Assert.ThrowsAsync<ScoringException>(() => client.GetModelMetadataAsync());
        Assert.Equal(StatusCode.Internal, metadata.StatusCode);
        Assert.Contains("no signature 'classify' (signatures: serving_default)", metadata.Details);
        Assert.Matches("^[0-9a-f]{32}$", metadata.RequestId);
    }

    /// <summary>
    /// The case that crashed the service's original C# sample client when the server answered tensor_content: the
    /// raw generated stub, no model_spec at all, reading only <c>float_val</c>.
    /// </summary>
    [Fact]
    public async Task TheDefaultAnswerIsFloatValAndAFloatValOnlyReaderWorks()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.Port}");
        var stub = new PredictionService.PredictionServiceClient(channel);
        var request = new PredictRequest();
        request.Inputs.Add("images", new TensorProto
        {
            Dtype = DataType.DtString,
            TensorShape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dim { Size = 1 } } },
            StringVal = { ByteString.CopyFrom(Clients.ImageBytes()) },
        });
        var response = await stub.PredictAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
        var output = response.Outputs["output_alias"];
        Assert.True(output.TensorContent.IsEmpty);
        var scores = output.FloatVal.ToArray();
        Assert.Equal(1000, scores.Length);
        Assert.Equal(Golden.Top1("gradient.jpg"), Predictions.TopK(scores, 1)[0].ClassId);
        Assert.Equal("resnet50", response.ModelSpec.Name);
        Assert.Equal(1L, response.ModelSpec.Version);
    }

    // -- the request and the decoding of answers the reference server does not give ----------------------------

    [Fact]
    public void TheRequestNamesTheModelAndAsksForTheSignatures()
    {
        var request = ModelMetadataCodec.Request("resnet50-x");
        Assert.Equal("resnet50-x", request.ModelSpec.Name);
        Assert.Null(request.ModelSpec.Version);
        Assert.Equal("", request.ModelSpec.SignatureName);
        Assert.Equal(["signature_def"], request.MetadataField);
    }

    private static GetModelMetadataResponse Response(string typeUrl = "type.googleapis.com/tensorflow.serving.SignatureDefMap",
        string signature = "serving_default", ByteString? value = null, long? version = null)
    {
        var signatures = new SignatureDefMap();
        var def = new SignatureDef { MethodName = "tensorflow/serving/predict" };
        def.Inputs.Add("images", Info(DataType.DtString, -1));
        signatures.SignatureDef.Add(signature, def);
        var response = new GetModelMetadataResponse { ModelSpec = new ModelSpec { Name = "resnet50", Version = version } };
        response.Metadata.Add("signature_def", new Any { TypeUrl = typeUrl, Value = value ?? signatures.ToByteString() });
        return response;
    }

    private static TensorInfo Info(DataType dtype, params long[] shape) =>
        new() { Name = "t:0", Dtype = dtype, TensorShape = Tensors.Shape(shape) };

    [Fact]
    public void WhatAServerPutsIntoAMetadataErrorIsBounded()
    {
        var signatures = new SignatureDefMap();
        for (var i = 0; i < 1000; i++)
            signatures.SignatureDef.Add($"{i:D4}" + new string('s', 10_000), new SignatureDef());
        var many = Assert.Throws<ScoringException>(() =>
            ModelMetadataCodec.Decode(Response(value: signatures.ToByteString()), "serving_default", "rid"));
        Assert.True(many.Status.Detail.Length < 1000, $"{many.Status.Detail.Length} characters");
        Assert.Contains("(995 more)", many.Status.Detail);
        var longUrl = Assert.Throws<ScoringException>(() =>
            ModelMetadataCodec.Decode(Response(typeUrl: new string('u', 100_000)), "serving_default", "rid"));
        Assert.True(longUrl.Status.Detail.Length < 1000, $"{longUrl.Status.Detail.Length} characters");
    }

    [Fact]
    public void AnAnswerWithoutAVersionHasNone()
    {
        var metadata = ModelMetadataCodec.Decode(Response(), "serving_default", "rid");
        Assert.Null(metadata.Version);
        Assert.Equal("resnet50", metadata.ModelName);
        Assert.Empty(metadata.Outputs);
        Assert.Equal(new TensorSpec("images", "DT_STRING", [-1]), Assert.Single(metadata.Inputs));
        Assert.Equal(7L, ModelMetadataCodec.Decode(Response(version: 7), "serving_default", "rid").Version);
    }

    [Fact]
    public void AnyTypeUrlPrefixIsAccepted()
    {
        // Only the last path segment names the type (as protobuf's Any defines it).
        foreach (var url in new[] { "tensorflow.serving.SignatureDefMap", "example.com/x/tensorflow.serving.SignatureDefMap" })
            Assert.Single(ModelMetadataCodec.Decode(Response(typeUrl: url), "serving_default", "rid").Inputs);
    }

    [Fact]
    public void InputsAndOutputsAreSortedByOrdinalNameWithTheirDtypesAndShapes()
    {
        var def = new SignatureDef();
        def.Outputs.Add("b", Info(DataType.DtFloat, -1, 3));
        def.Outputs.Add("a", Info(DataType.DtInt32));
        def.Outputs.Add("B", Info((DataType)999, 2));
        def.Outputs.Add("n", new TensorInfo { Dtype = DataType.DtDouble }); // no shape at all
        var signatures = new SignatureDefMap();
        signatures.SignatureDef.Add("serving_default", def);
        var metadata = ModelMetadataCodec.Decode(Response(value: signatures.ToByteString()), "serving_default", "rid");
        Assert.Equal(["B", "a", "b", "n"], metadata.Outputs.Select(o => o.Name));
        Assert.Equal(["DT_UNKNOWN_999", "DT_INT32", "DT_FLOAT", "DT_DOUBLE"], metadata.Outputs.Select(o => o.DataType));
        Assert.Equal([-1L, 3], metadata.Output("b").Shape);
        Assert.Empty(metadata.Output("a").Shape);
        Assert.Empty(metadata.Output("n").Shape);
        Assert.Empty(metadata.Inputs);
    }

    public static TheoryData<string, Func<GetModelMetadataResponse>> Malformed => new()
    {
        { "model metadata has no 'signature_def' (fields: none)", () => new GetModelMetadataResponse() },
        { "model metadata has no 'signature_def' (fields: signatures)", () =>
            {
                var response = Response();
                response.Metadata.Add("signatures", response.Metadata["signature_def"]);
                response.Metadata.Remove("signature_def");
                return response;
            } },
        { "model metadata 'signature_def' is a 'type.googleapis.com/foo.Bar', expected tensorflow.serving.SignatureDefMap",
            () => Response(typeUrl: "type.googleapis.com/foo.Bar") },
        { "is a 'type.googleapis.com/tensorflow.serving.SignatureDefMapX', expected",
            () => Response(typeUrl: "type.googleapis.com/tensorflow.serving.SignatureDefMapX") },
        { "is a 'type.googleapis.com/my.tensorflow.serving.SignatureDefMap', expected",
            () => Response(typeUrl: "type.googleapis.com/my.tensorflow.serving.SignatureDefMap") },
        { "model metadata 'signature_def' does not parse", () => Response(value: ByteString.CopyFrom(0xff, 0xff, 0xff)) },
        { "model metadata has no signature 'serving_default' (signatures: other)", () => Response(signature: "other") },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AMalformedAnswerIsInternalNamingWhatWasWrongWithTheRequestId(string message, Func<GetModelMetadataResponse> response)
    {
        var error = Assert.Throws<ScoringException>(() => ModelMetadataCodec.Decode(response(), "serving_default", "fake-metadata"));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains(message, error.Details);
        Assert.Equal("fake-metadata", error.RequestId);
    }

    [Fact]
    public void EqualityComparesTheListsElementByElement()
    {
        ModelMetadata Make() => new("resnet50", 1, "serving_default",
            [new TensorSpec("images", "DT_STRING", [-1])],
            [new TensorSpec("output_alias", "DT_FLOAT", new List<long> { -1, 1000 })]);
        var a = Make();
        var b = Make();
        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, a with { Version = null });
        Assert.NotEqual(a, a with { Outputs = [new TensorSpec("output_alias", "DT_FLOAT", [-1, 999])] });
        Assert.NotEqual(a, a with { Outputs = [], Inputs = [.. a.Inputs, .. a.Outputs] });
        Assert.NotEqual(new TensorSpec("x", "DT_FLOAT", [1]), new TensorSpec("x", "DT_FLOAT", [1, 1]));
        Assert.Equal("TensorSpec { Name = images, DataType = DT_STRING, Shape = [-1] }", a.Inputs[0].ToString());
        Assert.Contains("Outputs = [TensorSpec { Name = output_alias, DataType = DT_FLOAT, Shape = [-1,1000] }]", a.ToString());
    }

    [Fact]
    public void LookupsByNameNameWhatIsThere()
    {
        var metadata = ModelMetadataCodec.Decode(Response(), "serving_default", "rid");
        Assert.Equal("images", metadata.Input("images").Name);
        var error = Assert.Throws<KeyNotFoundException>(() => metadata.Input("pixels"));
        Assert.Contains("no input 'pixels' (inputs: images)", error.Message);
        Assert.Contains("no output 'output_alias' (outputs: none)", Assert.Throws<KeyNotFoundException>(() => metadata.Output("output_alias")).Message);
    }
}
