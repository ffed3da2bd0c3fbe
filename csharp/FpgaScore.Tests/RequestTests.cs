using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Request building and the local input checks (INVALID_ARGUMENT, no call).</summary>
public class RequestTests
{
    [Fact]
    public void AStreamIsReadOnceSoTheRequestCanBeSentAgain()
    {
        var bytes = Clients.ImageBytes();
        using var stream = new MemoryStream(bytes);
        var request = new ImageRequest(stream);
        stream.Dispose();
        var first = request.BuildRequest(RequestSettings.Default);
        var second = request.BuildRequest(RequestSettings.Default);
        Assert.Equal(first, second);
        Assert.Equal(bytes, first.Inputs["images"].StringVal[0].ToByteArray());
    }

    [Fact]
    public void ABatchHasOneElementPerImage()
    {
        var request = ImageRequest.FromFiles(RepoPaths.Image("gradient.jpg"), RepoPaths.Image("rings.jpg"), RepoPaths.Image("checkerboard.png"));
        Assert.Equal(3, request.Count);
        var tensor = request.BuildRequest(RequestSettings.Default).Inputs["images"];
        Assert.Equal(V1.DataType.DtString, tensor.Dtype);
        Assert.Equal([3L], tensor.TensorShape.Dim.Select(d => d.Size));
        Assert.Equal(File.ReadAllBytes(RepoPaths.Image("rings.jpg")), tensor.StringVal[1].ToByteArray());
    }

    [Fact]
    public void TheClientsNamesAreUsed()
    {
        var request = new ImageRequest([1, 2, 3]).BuildRequest(new RequestSettings("m2", "sig", "input_bytes"));
        Assert.Equal("m2", request.ModelSpec.Name);
        Assert.Equal("sig", request.ModelSpec.SignatureName);
        Assert.True(request.Inputs.ContainsKey("input_bytes"));
    }

    [Fact]
    public void ACustomOutputNameIsInTheOutputFilterAndTheDefaultIsNot()
    {
        var image = new ImageRequest([1, 2, 3]);
        Assert.Empty(image.BuildRequest(RequestSettings.Default).OutputFilter);
        Assert.Empty(image.BuildRequest(RequestSettings.Default with { OutputName = "output_alias" }).OutputFilter);
        var custom = RequestSettings.Default with { OutputName = "scores" };
        Assert.Equal(["scores"], image.BuildRequest(custom).OutputFilter);
        Assert.Equal(["scores"], new FloatRequest(new float[224 * 224 * 3], 224, 224, 3).BuildRequest(custom).OutputFilter);
    }

    [Fact]
    public void AFileThatCannotBeReadIsInvalidArgumentNamingIt()
    {
        var missing = Path.Combine(RunDirectory.Path, "no-such-image.jpg");
        var error = Assert.Throws<ScoringException>(() => ImageRequest.FromFiles(RepoPaths.Image("gradient.jpg"), missing));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(missing, error.Message);
        var directory = Assert.Throws<ScoringException>(() => ImageRequest.FromFiles(RunDirectory.Path));
        Assert.Equal(StatusCode.InvalidArgument, directory.StatusCode);
    }

    public static TheoryData<string, Func<object>> BadInputs => new()
    {
        { "empty batch", () => new ImageRequest(Array.Empty<byte[]>()) },
        { "empty image", () => new ImageRequest([1, 2], []) },
        { "empty stream", () => new ImageRequest(new MemoryStream()) },
        { "count", () => new FloatRequest(new float[10], 224, 224, 3) },
        { "non-positive", () => new FloatRequest(Array.Empty<float>(), 0, 224, 224, 3) },
        { "negative", () => new FloatRequest(new float[150528], -1, -224, 224, 3) },
        { "shape", () => new FloatRequest(new float[6], 2, 3) },
        { "channels", () => new FloatRequest(new float[224 * 224 * 4], 224, 224, 4) },
        { "empty shape", () => new FloatRequest(new float[1]) },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputIsInvalidArgument(string what, Func<object> build)
    {
        var error = Assert.Throws<ScoringException>(build);
        Assert.True(error.StatusCode == StatusCode.InvalidArgument, what);
        Assert.Equal("", error.RequestId);
    }

    [Fact]
    public void NonFiniteFloatsAreAllowed()
    {
        var values = new float[224 * 224 * 3];
        values[0] = float.NaN;
        values[1] = float.PositiveInfinity;
        var request = new FloatRequest(values, 1, 224, 224, 3);
        Assert.Equal(1, request.Count);
    }

    [Fact]
    public void MultiDimensionalArraysKeepRowMajorOrder()
    {
        var image = new float[224, 224, 3];
        image[0, 1, 2] = 42f;
        var tensor = new FloatRequest(image).BuildRequest(RequestSettings.Default).Inputs["images"];
        Assert.Equal([1L, 224, 224, 3], tensor.TensorShape.Dim.Select(d => d.Size));
        Assert.Equal(42f, BitConverter.ToSingle(tensor.TensorContent.Span.Slice((1 * 3 + 2) * 4, 4)));

        var batch = new float[2, 224, 224, 3];
        batch[1, 0, 0, 0] = 7f;
        var batchTensor = new FloatRequest(batch).BuildRequest(RequestSettings.Default).Inputs["images"];
        Assert.Equal([2L, 224, 224, 3], batchTensor.TensorShape.Dim.Select(d => d.Size));
        Assert.Equal(7f, BitConverter.ToSingle(batchTensor.TensorContent.Span.Slice(224 * 224 * 3 * 4, 4)));
    }
}
