namespace FpgaScore;

/// <summary>The 1000 ImageNet class labels, by class id (the embedded <c>imagenet_classes.txt</c>, line n = class n).</summary>
public static class ImageNetLabels
{
    private static readonly Lazy<string[]> s_labels = new(Load);

    /// <summary>All labels; index = class id.</summary>
    public static IReadOnlyList<string> All => s_labels.Value;

    /// <summary>The label of <paramref name="classId"/>, or <c>class N</c> when out of range.</summary>
    public static string Get(int classId)
    {
        var labels = s_labels.Value;
        return classId >= 0 && classId < labels.Length ? labels[classId] : $"class {classId}";
    }

    private static string[] Load()
    {
        using var stream = typeof(ImageNetLabels).Assembly.GetManifestResourceStream("FpgaScore.imagenet_classes.txt")
            ?? throw new InvalidOperationException("the embedded ImageNet labels are missing");
        using var reader = new StreamReader(stream);
        var labels = new List<string>(1000);
        while (reader.ReadLine() is { } line)
            labels.Add(line.TrimEnd());
        while (labels.Count > 0 && labels[^1].Length == 0) labels.RemoveAt(labels.Count - 1);
        return labels.ToArray();
    }
}
