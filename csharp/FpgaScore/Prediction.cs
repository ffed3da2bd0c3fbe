namespace FpgaScore;

/// <summary>One class of a top-k list.</summary>
/// <param name="ClassId">ImageNet class id (0..999).</param>
/// <param name="Label">The class's English label.</param>
/// <param name="Score">The score (softmax probability).</param>
public sealed record Prediction(int ClassId, string Label, float Score)
{
    /// <summary>E.g. <c>207 golden retriever 0.8123</c>.</summary>
    public override string ToString() => $"{ClassId} {Label} {Score:0.0000}";
}
