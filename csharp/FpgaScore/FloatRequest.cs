using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore;

/// <summary>
/// A preprocessed float tensor of shape [N,224,224,3] (or [224,224,3], sent as [1,224,224,3]),
/// sent as little-endian float32 in <c>tensor_content</c>.
/// </summary>
/// <remarks>
/// The values are encoded once, in the constructor (later changes to the array are not seen).
/// A count that is not the product of the shape, a non-positive dimension or another shape throws
/// <see cref="ScoringException"/> with <c>InvalidArgument</c>. Non-finite values are allowed (the server decides).
/// </remarks>
public sealed class FloatRequest : IScoringRequest
{
    /// <summary>Height, width and channels of one image.</summary>
    public const int Height = 224, Width = 224, Channels = 3;

    private readonly TensorProto _tensor;

    /// <summary>Values in row-major order, and their shape ([N,224,224,3] or [224,224,3]).</summary>
    public FloatRequest(float[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        Shape = Check(values.Length, shape);
        _tensor = Tensors.Floats(values, Shape);
    }

    /// <summary>One image as [224,224,3].</summary>
    public FloatRequest(float[,,] image)
        : this(Flatten(image), Dims(image))
    {
    }

    /// <summary>A batch as [N,224,224,3].</summary>
    public FloatRequest(float[,,,] batch)
        : this(Flatten(batch), Dims(batch))
    {
    }

    /// <summary>The shape sent, always [N,224,224,3].</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Images in the batch (N).</summary>
    public long Count => Shape[0];

    /// <inheritdoc />
    public PredictRequest BuildRequest(RequestSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Tensors.Request(settings, _tensor);
    }

    private static long[] Check(int count, long[] shape)
    {
        if (shape.Length == 0)
            throw Invalid("the shape is empty: expected [N,224,224,3] or [224,224,3]");
        long product = 1;
        foreach (var d in shape)
        {
            if (d <= 0) throw Invalid($"shape {Text(shape)} has a non-positive dimension");
            product = product > long.MaxValue / d ? long.MaxValue : product * d;
        }
        if (product != count)
            throw Invalid($"{count} values do not fill shape {Text(shape)} ({product} values)");
        if (shape.Length == 3 && IsImage(shape, 0))
            return [1, Height, Width, Channels];
        if (shape.Length == 4 && IsImage(shape, 1))
            return (long[])shape.Clone();
        throw Invalid($"shape {Text(shape)} is not [N,224,224,3] or [224,224,3]");
    }

    private static bool IsImage(long[] shape, int at) =>
        shape[at] == Height && shape[at + 1] == Width && shape[at + 2] == Channels;

    private static ScoringException Invalid(string message) => new(StatusCode.InvalidArgument, message);

    private static string Text(long[] shape) => "[" + string.Join(",", shape) + "]";

    private static long[] Dims(Array array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var dims = new long[array.Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = array.GetLength(i);
        return dims;
    }

    private static float[] Flatten(Array array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var flat = new float[array.Length];
        var source = MemoryMarshal.CreateReadOnlySpan(
            ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);
        source.CopyTo(flat);
        return flat;
    }
}
