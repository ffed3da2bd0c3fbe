using System.Text.Json;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>The reference server's expected top-5 per test image (conformance/testdata/golden.json).</summary>
public static class Golden
{
    private static readonly Lazy<JsonElement> s_golden = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "conformance", "testdata", "golden.json"))).RootElement);

    /// <summary>(class id, score) of the top 5 of <paramref name="image"/>.</summary>
    public static IReadOnlyList<(int ClassId, float Score)> Top5(string image) =>
        s_golden.Value.GetProperty(image).GetProperty("top5").EnumerateArray()
            .Select(e => (e[0].GetInt32(), (float)e[1].GetDouble())).ToList();

    public static int Top1(string image) => Top5(image)[0].ClassId;
}
