namespace FpgaScore;

/// <summary>Top-k selection over scores, with ImageNet labels.</summary>
public static class Predictions
{
    /// <summary>The default number of classes of a top-k: 5, in every fpgascore client and command line.</summary>
    public const int DefaultTopK = 5;

    /// <summary>The <paramref name="k"/> highest scores of one row, best first (ties: lower class id first; NaN last);
    /// none for <paramref name="k"/> &lt;= 0, as in the other clients.</summary>
    public static IReadOnlyList<Prediction> TopK(ReadOnlySpan<float> scores, int k = DefaultTopK)
    {
        if (k <= 0) return [];
        var ids = new int[scores.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = i;
        var keys = scores.ToArray();
        Array.Sort(ids, (a, b) => Compare(keys, a, b));
        var count = Math.Min(k, ids.Length);
        var result = new Prediction[count];
        for (int i = 0; i < count; i++)
            result[i] = new Prediction(ids[i], ImageNetLabels.Get(ids[i]), keys[ids[i]]);
        return result;
    }

    /// <summary>The top-k of one row.</summary>
    public static IReadOnlyList<Prediction> TopK(float[] scores, int k = DefaultTopK)
    {
        ArgumentNullException.ThrowIfNull(scores);
        return TopK(scores.AsSpan(), k);
    }

    /// <summary>The top-k of each row of an [N,C] score matrix.</summary>
    public static IReadOnlyList<IReadOnlyList<Prediction>> TopK(float[,] scores, int k = DefaultTopK)
    {
        ArgumentNullException.ThrowIfNull(scores);
        int rows = scores.GetLength(0), columns = scores.GetLength(1);
        var flat = new float[scores.Length];
        Buffer.BlockCopy(scores, 0, flat, 0, flat.Length * sizeof(float));
        var result = new IReadOnlyList<Prediction>[rows];
        for (int r = 0; r < rows; r++) result[r] = TopK(flat.AsSpan(r * columns, columns), k);
        return result;
    }

    private static int Compare(float[] scores, int a, int b)
    {
        float x = scores[a], y = scores[b];
        bool xn = float.IsNaN(x), yn = float.IsNaN(y);
        if (xn != yn) return xn ? 1 : -1;
        if (!xn && x != y) return y.CompareTo(x);
        return a.CompareTo(b);
    }
}
