using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

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

    /// <summary>The JSON document: <c>request_id</c> (the first call's), <c>results</c> (each with its call's
    /// <c>request_id</c>); after a failed call also <c>error</c> and <c>not_scored</c>.</summary>
    public static string Json(IReadOnlyList<Scored> results, IReadOnlyList<string>? notScored = null, ScoringException? error = null)
    {
        var document = new Dictionary<string, object?>
        {
            ["request_id"] = results.Count > 0 ? results[0].RequestId : "",
            ["results"] = results.Select(r => new
            {
                image = r.Image,
                top_k = r.Top.Select(p => new { class_id = p.ClassId, label = p.Label, score = p.Score }),
                request_id = r.RequestId,
            }),
        };
        if (error is not null)
        {
            document["error"] = new { code = CodeName(error.StatusCode), message = Bounded(error.Details), request_id = error.RequestId };
            document["not_scored"] = notScored ?? [];
        }
        return JsonSerializer.Serialize(document, s_indented) + "\n";
    }

    /// <summary><paramref name="text"/>, or its first <see cref="MaxErrorChars"/> characters and how many were left off.</summary>
    public static string Bounded(string text) =>
        text.Length <= MaxErrorChars ? text : $"{text[..MaxErrorChars]}… ({text.Length - MaxErrorChars} more characters)";

    /// <summary>The gRPC name of a code, as the other clients print it (<c>InvalidArgument</c> → <c>INVALID_ARGUMENT</c>).</summary>
    public static string CodeName(Grpc.Core.StatusCode code) =>
        Regex.Replace(code.ToString(), "(?<=[a-z])(?=[A-Z])", "_").ToUpperInvariant();
}
