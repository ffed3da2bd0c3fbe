using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FpgaScore.V1;
using Google.Protobuf;

namespace FpgaScore;

/// <summary>Builds the tensors and the request message (no input checks here: see the request classes).</summary>
internal static class Tensors
{
    public static TensorProto Strings(IReadOnlyList<ByteString> items)
    {
        var tensor = new TensorProto { Dtype = DataType.DtString, TensorShape = Shape(items.Count) };
        tensor.StringVal.AddRange(items);
        return tensor;
    }

    /// <summary>A DT_FLOAT tensor with the values as little-endian float32 in tensor_content.</summary>
    public static TensorProto Floats(ReadOnlySpan<float> values, IReadOnlyList<long> shape) => new()
    {
        Dtype = DataType.DtFloat,
        TensorShape = Shape(shape),
        TensorContent = LittleEndianBytes(values),
    };

    public static ByteString LittleEndianBytes(ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
            return ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    public static TensorShapeProto Shape(params long[] dims) => Shape((IReadOnlyList<long>)dims);

    public static TensorShapeProto Shape(IReadOnlyList<long> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dim { Size = d });
        return shape;
    }

    public static PredictRequest Request(RequestSettings settings, TensorProto input)
    {
        var request = new PredictRequest
        {
            ModelSpec = new ModelSpec { Name = settings.ModelName, SignatureName = settings.SignatureName },
        };
        request.Inputs.Add(settings.InputName, input);
        AddOutputFilter(request, settings.OutputName);
        return request;
    }

    /// <summary>
    /// Names <paramref name="outputName"/> in <c>output_filter</c> unless it is the default output (which the
    /// server returns for an empty filter; the default request carries no filter) or already named.
    /// </summary>
    public static void AddOutputFilter(PredictRequest request, string outputName)
    {
        if (outputName != RequestSettings.DefaultOutputName && !request.OutputFilter.Contains(outputName))
            request.OutputFilter.Add(outputName);
    }
}
