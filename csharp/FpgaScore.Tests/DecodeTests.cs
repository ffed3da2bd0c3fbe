using FpgaScore.V1;
using Google.Protobuf;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Decoding of the output tensor and conversion to the caller's array type.</summary>
public class DecodeTests
{
    private static PredictResponse Response(TensorProto tensor, string name = "output_alias")
    {
        var response = new PredictResponse();
        response.Outputs.Add(name, tensor);
        return response;
    }

    private static TensorProto Floats(long[] shape, float[] values, bool floatVal)
    {
        var tensor = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Tensors.Shape(shape) };
        if (floatVal) tensor.FloatVal.AddRange(values);
        else tensor.TensorContent = Tensors.LittleEndianBytes(values);
        return tensor;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BothEncodingsDecode(bool floatVal)
    {
        var values = Enumerable.Range(0, 2000).Select(i => i / 2000f).ToArray();
        var (decoded, shape) = Scores.Decode(Response(Floats([2, 1000], values, floatVal)));
        Assert.Equal(values, decoded);
        Assert.Equal([2L, 1000], shape);
    }

    [Fact]
    public void AMissingOutputIsInternalAndNamesWhatIsThere()
    {
        var error = Assert.Throws<ScoringException>(() => Scores.Decode(Response(Floats([1, 3], [1, 2, 3], false), "features")));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("output_alias", error.Message);
        Assert.Contains("features", error.Message);
    }

    [Fact]
    public void TheWrongSizeIsInternal()
    {
        var tensor = Floats([1, 1000], new float[999], false);
        Assert.Equal(StatusCode.Internal, Assert.Throws<ScoringException>(() => Scores.Decode(Response(tensor))).StatusCode);
        tensor = Floats([1, 1000], new float[999], true);
        var error = Assert.Throws<ScoringException>(() => Scores.Decode(Response(tensor)));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("float_val", error.Message);
    }

    [Fact]
    public void NoValuesAndWrongDtypeAreInternal()
    {
        var empty = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Tensors.Shape(1, 1000) };
        Assert.Contains("neither", Assert.Throws<ScoringException>(() => Scores.Decode(Response(empty))).Message);
        var strings = new TensorProto { Dtype = DataType.DtString, TensorShape = Tensors.Shape(1) };
        strings.StringVal.Add(ByteString.CopyFromUtf8("x"));
        Assert.Equal(StatusCode.Internal, Assert.Throws<ScoringException>(() => Scores.Decode(Response(strings))).StatusCode);
    }

    public static TheoryData<string, long[], string> BadShapes => new()
    {
        { "rank 1", [1000], "not [N,1000]" },
        { "rank 3", [1, 1000, 1], "not [N,1000]" },
        { "columns", [1, 999], "999 scores per image" },
        { "empty rows", [0, 1000], "empty" },
        { "empty columns", [1, 0], "empty" },
        { "overflow", [long.MaxValue / 2, 1000], "overflows" },
        { "huge", [int.MaxValue, 1000], "too large" },
    };

    [Theory]
    [MemberData(nameof(BadShapes))]
    public void AShapeThatIsNotRowsByThousandIsInternal(string what, long[] shape, string expected)
    {
        var tensor = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Tensors.Shape(shape) };
        tensor.FloatVal.Add(1f);
        var error = Assert.Throws<ScoringException>(() => Scores.Decode(Response(tensor)));
        Assert.True(error.StatusCode == StatusCode.Internal, what);
        Assert.Contains(expected, error.Message);
        Assert.Contains("[" + string.Join(",", shape) + "]", error.Message);
    }

    [Fact]
    public void TheRowsMustMatchTheImagesSent()
    {
        var response = Response(Floats([2, 1000], new float[2000], false));
        Assert.Equal([2L, 1000], Scores.Decode(response, expectedRows: 2).Shape);
        var error = Assert.Throws<ScoringException>(() => Scores.Decode(response, expectedRows: 1));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("2 rows", error.Message);
        Assert.Contains("1 image", error.Message);
    }

    [Fact]
    public void FloatArrayFromSeveralRowsAfterACallIsInternal()
    {
        // The request's row count was unknown (a custom request), the server answered two rows: its fault, not the caller's.
        var response = Response(Floats([2, 1000], new float[2000], true));
        var error = Assert.Throws<ScoringException>(() => Scores.DecodeAs<float[]>(response, "output_alias", null));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Equal(2, Scores.DecodeAs<float[,]>(response, "output_alias", 2).Scores.GetLength(0));
    }

    [Fact]
    public void TensorContentIsPreferredWhenBothAreSet()
    {
        var content = Enumerable.Range(0, 1000).Select(i => i / 1000f).ToArray();
        var tensor = Floats([1, 1000], content, false);
        tensor.FloatVal.AddRange(new float[1000]);
        Assert.Equal(content, Scores.Decode(Response(tensor)).Values);
        tensor.FloatVal.Add(1f); // a float_val of the wrong size does not matter either
        Assert.Equal(content, Scores.Decode(Response(tensor)).Values);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EveryArrayTypeHoldsTheDecodedValues(bool floatVal)
    {
        var values = Enumerable.Range(0, 2000).Select(i => (i - 1000) / 7f).ToArray();
        var response = Response(Floats([2, 1000], values, floatVal));
        var matrix = Scores.DecodeAs<float[,]>(response, "output_alias", 2).Scores;
        Assert.Equal(values, matrix.Cast<float>());
        var jagged = Scores.DecodeAs<float[][]>(response, "output_alias", 2).Scores;
        Assert.Equal(values, jagged.SelectMany(row => row));
        var one = Response(Floats([1, 1000], values[..1000], floatVal));
        Assert.Equal(values[..1000], Scores.DecodeAs<float[]>(one, "output_alias", 1).Scores);
    }

    [Fact]
    public void ANonFiniteValueIsFoundAtEveryPosition()
    {
        // 37 values: whole vectors of any width, then a tail; the largest finite floats pass.
        for (int at = 0; at < 37; at++)
        {
            var values = Enumerable.Repeat(float.MaxValue, 37).ToArray();
            values[0] = float.MinValue;
            values[at] = float.PositiveInfinity;
            var error = Assert.Throws<ScoringException>(() => Scores.Decode(Response(Floats([1, 37], values, false)), expectedColumns: 37));
            Assert.Contains($"(+Inf) at image 0, class {at} (1 of 37", error.Details);
        }
        Assert.Equal(37, Scores.Decode(Response(Floats([1, 37], Enumerable.Repeat(float.MaxValue, 37).ToArray(), true)), expectedColumns: 37).Values.Length);
    }

    [Fact]
    public void RankMatchesTheArrayType()
    {
        float[] one = [0.1f, 0.9f];
        Assert.Equal(one, Scores.Convert<float[]>(one, [1, 2]));
        Assert.Equal(one, Scores.Convert<float[]>(one, [2]));
        var matrix = Scores.Convert<float[,]>(one, [1, 2]);
        Assert.Equal(0.9f, matrix[0, 1]);
        var error = Assert.Throws<ScoringException>(() => Scores.Convert<float[]>([1, 2, 3, 4], [2, 2]));
        Assert.Contains("float[,]", error.Message);
        Assert.Throws<ScoringException>(() => Scores.Convert<double[]>(one, [1, 2]));
    }
}
