using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Decodes the output tensor of a response into floats, and converts them to the caller's array type.</summary>
public static class Scores
{
    /// <summary>The number of scores per image: the ImageNet classes.</summary>
    public const int Classes = 1000;

    /// <summary>
    /// The values and shape of output <paramref name="outputName"/>, from <c>tensor_content</c> (little-endian
    /// float32, preferred when both are set) or <c>float_val</c>, whichever the server used.
    /// </summary>
    /// <param name="response">The server's response.</param>
    /// <param name="outputName">The output to read.</param>
    /// <param name="expectedRows">The number of images sent, when known: the output must have as many rows.</param>
    /// <param name="expectedColumns">The scores per image, <see cref="Classes"/> unless told; <c>null</c> leaves it unchecked.</param>
    /// <exception cref="ScoringException"><c>Internal</c>: the output is missing, not float, not a non-empty
    /// [rows,columns] (with <paramref name="expectedRows"/> and <paramref name="expectedColumns"/> when given),
    /// a shape too large to hold, values of the wrong size, or a NaN or infinite value (the message names the
    /// first one's image and class). Negative or unnormalised finite values are returned as they are.</exception>
    public static (float[] Values, long[] Shape) Decode(PredictResponse response, string outputName = "output_alias", int? expectedRows = null,
        int? expectedColumns = Classes)
    {
        var (tensor, shape, count) = Checked(response, outputName, expectedRows, expectedColumns);
        var values = new float[count];
        Fill(tensor, outputName, shape, values);
        return (values, shape);
    }

    /// <summary>
    /// Decodes output <paramref name="outputName"/> of a successful call that sent <paramref name="sentRows"/> images
    /// (when known) and converts it to <typeparamref name="T"/>; every mismatch is <c>Internal</c>, the server's fault.
    /// The values are written once, straight into the array returned (<c>float[]</c>, <c>float[,]</c>).
    /// </summary>
    internal static (T Scores, long[] Shape) DecodeAs<T>(PredictResponse response, string outputName, int? sentRows)
    {
        var (tensor, shape, count) = Checked(response, outputName, sentRows, Classes);
        if (typeof(T) == typeof(float[]) && shape[0] != 1)
            throw Internal($"output '{outputName}' has {shape[0]} rows; float[] holds the scores of one image");
        if (typeof(T) == typeof(float[,]))
        {
            var matrix = new float[shape[0], shape[1]];
            Fill(tensor, outputName, shape, MemoryMarshal.CreateSpan(ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(matrix)), count));
            return ((T)(object)matrix, shape);
        }
        var values = new float[count];
        Fill(tensor, outputName, shape, values);
        return (Convert<T>(values, shape), shape);
    }

    /// <summary>The output's tensor, its shape and its number of values, once every check of the tensor's dtype and
    /// shape has passed (<see cref="Fill"/> checks the values).</summary>
    private static (TensorProto Tensor, long[] Shape, int Count) Checked(PredictResponse response, string outputName, int? expectedRows,
        int? expectedColumns)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.Outputs.TryGetValue(outputName, out var tensor))
        {
            var present = response.Outputs.Count == 0 ? "none" : string.Join(", ", response.Outputs.Keys.OrderBy(k => k, StringComparer.Ordinal));
            throw Internal($"the response has no output '{outputName}' (outputs: {present})");
        }
        if (tensor.Dtype != DataType.DtFloat)
            throw Internal($"output '{outputName}' has dtype {tensor.Dtype}, not DT_FLOAT");
        var dims = tensor.TensorShape?.Dim;
        var shape = new long[dims?.Count ?? 0];
        for (int i = 0; i < shape.Length; i++) shape[i] = dims![i].Size;
        foreach (var d in shape)
            if (d < 0) throw Internal($"output '{outputName}' has an unknown dimension in shape {Text(shape)}");
        if (shape.Length != 2)
            throw Internal($"output '{outputName}' has shape {Text(shape)}, not [N,{expectedColumns?.ToString(CultureInfo.InvariantCulture) ?? "C"}]");
        if (shape[0] == 0 || shape[1] == 0)
            throw Internal($"output '{outputName}' is empty: shape {Text(shape)}");
        long count;
        try
        {
            count = checked(shape[0] * shape[1]);
        }
        catch (OverflowException)
        {
            throw Internal($"output '{outputName}' has shape {Text(shape)}, whose size overflows");
        }
        if (expectedColumns is { } columns && shape[1] != columns)
            throw Internal($"output '{outputName}' has shape {Text(shape)}, not [N,{columns}]: {shape[1]} scores per image");
        if (count > Array.MaxLength)
            throw Internal($"output '{outputName}' has shape {Text(shape)}, too large to decode");
        if (expectedRows is { } rows && shape[0] != rows)
            throw Internal($"output '{outputName}' has {shape[0]} rows (shape {Text(shape)}) for {rows} image(s) sent");
        return (tensor, shape, (int)count);
    }

    /// <summary>Writes the tensor's values into <paramref name="values"/> (as many as its shape holds) from
    /// <c>tensor_content</c> (little-endian float32, preferred) or <c>float_val</c>, then checks they are all finite.</summary>
    private static void Fill(TensorProto tensor, string outputName, long[] shape, Span<float> values)
    {
        long count = values.Length;
        if (!tensor.TensorContent.IsEmpty)
        {
            var bytes = tensor.TensorContent.Span;
            if (bytes.Length != count * sizeof(float))
                throw Internal($"output '{outputName}' has {bytes.Length} bytes of tensor_content; shape {Text(shape)} needs {count * sizeof(float)}");
            if (BitConverter.IsLittleEndian)
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
            else
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float)));
        }
        else if (tensor.FloatVal.Count > 0)
        {
            var floatVal = tensor.FloatVal;
            if (floatVal.Count != count)
                throw Internal($"output '{outputName}' has {floatVal.Count} float_val values; shape {Text(shape)} needs {count}");
            for (int i = 0; i < values.Length; i++) values[i] = floatVal[i];
        }
        else
        {
            throw Internal($"output '{outputName}' has neither tensor_content nor float_val");
        }
        CheckFinite(values, outputName, shape[1]);
    }

    /// <summary>The shape as the error messages write it, e.g. <c>[1,1000]</c>; made only for an error.</summary>
    private static string Text(long[] shape) => $"[{string.Join(",", shape)}]";

    /// <summary>Throws <c>Internal</c> naming the first NaN or infinite value (its image and class) and how many there are.</summary>
    private static void CheckFinite(ReadOnlySpan<float> values, string outputName, long columns)
    {
        if (AllFinite(values)) return;
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        var value = values[first];
        var kind = float.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
        throw Internal($"output '{outputName}' has a non-finite score ({kind}) at image {first / columns}, class {first % columns} " +
                       $"({count} of {values.Length} scores are not finite)");
    }

    /// <summary>Whether no value is NaN or infinite (a float whose eight exponent bits are all set), a vector at a time.</summary>
    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        const int exponent = 0x7F800000;
        var bits = MemoryMarshal.Cast<float, int>(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<int>(exponent);
            for (; i <= bits.Length - Vector<int>.Count; i += Vector<int>.Count)
                if (Vector.EqualsAny(Vector.BitwiseAnd(new Vector<int>(bits.Slice(i)), mask), mask)) return false;
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return false;
        return true;
    }

    /// <summary>Whether <typeparamref name="T"/> is a result type the client can produce.</summary>
    public static bool IsSupported<T>() =>
        typeof(T) == typeof(float[]) || typeof(T) == typeof(float[,]) || typeof(T) == typeof(float[][]);

    internal static void EnsureSupported<T>()
    {
        if (!IsSupported<T>())
            throw new ScoringException(StatusCode.InvalidArgument,
                $"cannot return scores as {typeof(T).Name}: use float[] (one image), float[,] or float[][] (a batch)");
    }

    /// <summary>
    /// Converts decoded scores to <typeparamref name="T"/>: <c>float[]</c> (rank 1, or one row),
    /// <c>float[,]</c> ([N,C]) or <c>float[][]</c> (N rows).
    /// </summary>
    public static T Convert<T>(float[] values, long[] shape)
    {
        EnsureSupported<T>();
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        var (rows, columns) = Rows(values.Length, shape);
        object result;
        if (typeof(T) == typeof(float[]))
        {
            if (rows != 1)
                throw new ScoringException(StatusCode.InvalidArgument,
                    $"the output has {rows} rows; float[] holds one: use float[,] or float[][] for a batch");
            result = values;
        }
        else if (typeof(T) == typeof(float[,]))
        {
            var matrix = new float[rows, columns];
            Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
            result = matrix;
        }
        else
        {
            var jagged = new float[rows][];
            for (int r = 0; r < rows; r++) jagged[r] = values.AsSpan(r * columns, columns).ToArray();
            result = jagged;
        }
        return (T)result;
    }

    private static (int Rows, int Columns) Rows(int count, long[] shape) => shape.Length switch
    {
        0 => (1, count),
        1 => (1, (int)shape[0]),
        2 => ((int)shape[0], (int)shape[1]),
        _ => ((int)shape[0], shape[0] == 0 ? 0 : count / (int)shape[0]),
    };

    private static ScoringException Internal(string message) => new(StatusCode.Internal, message);
}
