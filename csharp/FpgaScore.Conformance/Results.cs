using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>The result objects of a response line.</summary>
internal static class Results
{
    public static JsonObject Ok(ScoringResult<float[,]> result, int k)
    {
        var scores = result.Scores;
        int rows = scores.GetLength(0), columns = scores.GetLength(1);
        var topK = new JsonArray();
        foreach (var row in Predictions.TopK(scores, k))
            topK.Add(new JsonArray(row.Select(p => (JsonNode)new JsonArray(p.ClassId, (double)p.Score)).ToArray()));
        return Result("OK", "", result.RequestId, new JsonArray(rows, columns), topK);
    }

    public static JsonObject Ok() => Result("OK", "", "", null, null);

    public static JsonObject Failed(Exception error) => error switch
    {
        ScoringException e => Result(CodeName(e.StatusCode), e.Details, e.RequestId, null, null),
        _ => Result("UNKNOWN", $"{error.GetType().Name}: {error.Message}", "", null, null),
    };

    /// <summary>The gRPC code name: <c>Unavailable</c> → <c>UNAVAILABLE</c>, <c>InvalidArgument</c> → <c>INVALID_ARGUMENT</c>.</summary>
    public static string CodeName(StatusCode code)
    {
        if (code == StatusCode.OK) return "OK";
        var name = code.ToString();
        var text = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i])) text.Append('_');
            text.Append(char.ToUpperInvariant(name[i]));
        }
        return text.ToString();
    }

    private static JsonObject Result(string code, string message, string requestId, JsonNode? shape, JsonNode? topK) => new()
    {
        ["code"] = code,
        ["message"] = message,
        ["request_id"] = requestId,
        ["shape"] = shape,
        ["top_k"] = topK,
    };
}
