using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Decodes the output tensor of a response into floats, and converts them to the caller's array type.</summary>
public static class Scores
{
    /// <summary>
    /// The values and shape of output <paramref name="outputName"/>, from <c>tensor_content</c> (little-endian
    /// float32) or <c>float_val</c>, whichever the server used.
    /// </summary>
    /// <exception cref="ScoringException"><c>Internal</c>: the output is missing, not float, or of the wrong size.</exception>
    public static (float[] Values, long[] Shape) Decode(PredictResponse response, string outputName = "output_alias")
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.Outputs.TryGetValue(outputName, out var tensor))
        {
            var present = response.Outputs.Count == 0 ? "none" : string.Join(", ", response.Outputs.Keys.OrderBy(k => k, StringComparer.Ordinal));
            throw Internal($"the response has no output '{outputName}' (outputs: {present})");
        }
        if (tensor.Dtype != DataType.DtFloat)
            throw Internal($"output '{outputName}' has dtype {tensor.Dtype}, not DT_FLOAT");
        var shape = tensor.TensorShape?.Dim.Select(d => d.Size).ToArray() ?? [];
        if (shape.Any(d => d < 0))
            throw Internal($"output '{outputName}' has an unknown dimension in shape [{string.Join(",", shape)}]");
        long count = 1;
        foreach (var d in shape) count = checked(count * d);

        float[] values;
        if (!tensor.TensorContent.IsEmpty)
        {
            var bytes = tensor.TensorContent.Span;
            if (bytes.Length != count * sizeof(float))
                throw Internal($"output '{outputName}' has {bytes.Length} bytes of tensor_content; shape [{string.Join(",", shape)}] needs {count * sizeof(float)}");
            values = new float[count];
            if (BitConverter.IsLittleEndian)
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
            else
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float)));
        }
        else if (tensor.FloatVal.Count > 0 || count == 0)
        {
            if (tensor.FloatVal.Count != count)
                throw Internal($"output '{outputName}' has {tensor.FloatVal.Count} float_val values; shape [{string.Join(",", shape)}] needs {count}");
            values = tensor.FloatVal.ToArray();
        }
        else
        {
            throw Internal($"output '{outputName}' has neither tensor_content nor float_val");
        }
        return (values, shape);
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
