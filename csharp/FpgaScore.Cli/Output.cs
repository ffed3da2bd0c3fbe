using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FpgaScore.Cli;

/// <summary>Formats top-k results as text or JSON.</summary>
internal static class Output
{
    /// <summary>How much of a server's message the command prints.</summary>
    public const int MaxErrorChars = 300;

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    /// <summary>One scored image: its top-k and the request id of its call.</summary>
    public sealed record Scored(string Image, IReadOnlyList<Prediction> Top, string RequestId);

    public static string Text(IEnumerable<Scored> results)
    {
        var text = new StringBuilder();
        foreach (var result in results)
        {
            text.Append(result.Image).Append('\n');
            foreach (var p in result.Top)
                text.Append(CultureInfo.InvariantCulture, $"  {p.Score,8:0.0000}  {p.ClassId,4}  {p.Label}\n");
        }
        return text.ToString();
    }

    /// <summary>An image that was not scored: the error of its call (or of reading it).</summary>
    public sealed record Failed(string Image, string Code, string Message, string RequestId);

    /// <summary>The JSON document, as the Python and Go commands print it: <c>results</c>, in the order of the
    /// command line, each scored image (<c>image</c>, <c>request_id</c> of its call, <c>top_k</c>) then each image
    /// of the failed call (<c>image</c>, <c>error</c>: <c>code</c>, <c>message</c>, <c>request_id</c>), and
    /// <c>not_scored</c>, the images after.</summary>
    public static string Json(IReadOnlyList<Scored> results, IReadOnlyList<Failed>? failed = null, IReadOnlyList<string>? notScored = null)
    {
        var entries = results.Select(r => (object)new
        {
            image = r.Image,
            request_id = r.RequestId,
            top_k = r.Top.Select(p => new { class_id = p.ClassId, label = p.Label, score = p.Score }),
        }).Concat((failed ?? []).Select(f => (object)new
        {
            image = f.Image,
            error = new { code = f.Code, message = Bounded(f.Message), request_id = f.RequestId },
        }));
        var document = new Dictionary<string, object?>
        {
            ["results"] = entries.ToList(),
            ["not_scored"] = notScored ?? [],
        };
        return JsonSerializer.Serialize(document, s_indented) + "\n";
    }

    /// <summary><paramref name="text"/>, or its first <see cref="MaxErrorChars"/> characters and how many were left off.</summary>
    public static string Bounded(string text) =>
        text.Length <= MaxErrorChars ? text : $"{text[..MaxErrorChars]}… ({text.Length - MaxErrorChars} more characters)";
}
