using System.Text.Json;
using FpgaScore.Tests.Infrastructure;
using FpgaScore.V1;
using Google.Protobuf;

namespace FpgaScore.Tests;

/// <summary>The shared wire vectors (tests/vectors): exact request bytes and decoded response floats.</summary>
public class VectorTests
{
    private static readonly JsonElement s_vectors =
        JsonDocument.Parse(File.ReadAllText(RepoPaths.Vectors("vectors.json"))).RootElement;

    [Fact]
    public void ImageRequestProducesTheVectorBytes()
    {
        var images = s_vectors.GetProperty("images_hex").EnumerateArray().Select(e => Convert.FromHexString(e.GetString()!)).ToArray();
        var request = new ImageRequest(images).BuildRequest(RequestSettings.Default);
        Assert.Equal(File.ReadAllBytes(RepoPaths.Vectors("predict_request_images.bin")), request.ToByteArray());
    }

    [Fact]
    public void ImageRequestFromStreamsProducesTheVectorBytes()
    {
        var streams = s_vectors.GetProperty("images_hex").EnumerateArray()
            .Select(e => (Stream)new MemoryStream(Convert.FromHexString(e.GetString()!))).ToArray();
        var request = new ImageRequest(streams).BuildRequest(RequestSettings.Default);
        Assert.Equal(File.ReadAllBytes(RepoPaths.Vectors("predict_request_images.bin")), request.ToByteArray());
    }

    [Fact]
    public void FloatTensorProducesTheVectorBytes()
    {
        var tensor = s_vectors.GetProperty("float_tensor");
        var values = tensor.GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var shape = tensor.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var request = Tensors.Request(RequestSettings.Default, Tensors.Floats(values, shape));
        Assert.Equal(File.ReadAllBytes(RepoPaths.Vectors("predict_request_float_tensor.bin")), request.ToByteArray());
    }

    [Fact]
    public void FloatRequestUsesTensorContentLittleEndian()
    {
        var values = Enumerable.Range(0, 224 * 224 * 3).Select(i => i * 0.5f).ToArray();
        var request = new FloatRequest(values, 224, 224, 3).BuildRequest(RequestSettings.Default);
        var tensor = request.Inputs["images"];
        Assert.Equal(DataType.DtFloat, tensor.Dtype);
        Assert.Equal([1L, 224, 224, 3], tensor.TensorShape.Dim.Select(d => d.Size));
        Assert.Empty(tensor.FloatVal);
        Assert.Equal(values.Length * 4, tensor.TensorContent.Length);
        Assert.Equal(values[7], BitConverter.ToSingle(tensor.TensorContent.Span.Slice(7 * 4, 4)));
        Assert.Equal("resnet50", request.ModelSpec.Name);
        Assert.Equal("serving_default", request.ModelSpec.SignatureName);
    }

    [Theory]
    [InlineData("predict_response_tensor_content.bin")]
    [InlineData("predict_response_float_val.bin")]
    public void ResponsesDecodeToTheVectorFloats(string file)
    {
        var expected = s_vectors.GetProperty("response_scores");
        var values = expected.GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var shape = expected.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();

        var response = PredictResponse.Parser.ParseFrom(File.ReadAllBytes(RepoPaths.Vectors(file)));
        var (decoded, decodedShape) = Scores.Decode(response, expectedRows: 2, expectedColumns: 3); // the vectors hold [2,3]
        Assert.Equal(values, decoded);
        Assert.Equal(shape, decodedShape);

        var matrix = Scores.Convert<float[,]>(decoded, decodedShape);
        Assert.Equal(2, matrix.GetLength(0));
        Assert.Equal(3, matrix.GetLength(1));
        Assert.Equal(values[4], matrix[1, 1]);
        var jagged = Scores.Convert<float[][]>(decoded, decodedShape);
        Assert.Equal(values[3..], jagged[1]);
    }
}
