using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FpgaScore.Cli;

/// <summary>Formats top-k results as text or JSON.</summary>
internal static class Output
{
    public static string Text(IReadOnlyList<string> images, IReadOnlyList<IReadOnlyList<Prediction>> rows)
    {
        var text = new StringBuilder();
        for (int i = 0; i < images.Count; i++)
        {
            text.Append(images[i]).Append('\n');
            foreach (var p in rows[i])
                text.Append(CultureInfo.InvariantCulture, $"  {p.Score,8:0.0000}  {p.ClassId,4}  {p.Label}\n");
        }
        return text.ToString();
    }

    public static string Json(IReadOnlyList<string> images, IReadOnlyList<IReadOnlyList<Prediction>> rows, string requestId)
    {
        var results = images.Select((image, i) => new
        {
            image,
            top_k = rows[i].Select(p => new { class_id = p.ClassId, label = p.Label, score = p.Score }),
        });
        return JsonSerializer.Serialize(new { request_id = requestId, results }, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
