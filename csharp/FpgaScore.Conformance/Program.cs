using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FpgaScore.Conformance;

// One JSON request per line on stdin, one JSON response per line on stdout, in order, flushed after each.
var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
using var stdin = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
using var driver = new Driver();
var json = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
while (await stdin.ReadLineAsync() is { } line)
{
    if (string.IsNullOrWhiteSpace(line)) continue;
    string? id = null;
    JsonObject response;
    try
    {
        using var document = JsonDocument.Parse(line);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new BadRequestException("a request is a JSON object");
        var request = new DriverRequest(document.RootElement.Clone());
        id = request.Id;
        var results = await driver.HandleAsync(request);
        response = new JsonObject { ["id"] = id, ["results"] = results, ["error"] = null };
    }
    catch (Exception e) when (e is JsonException or BadRequestException or OverflowException)
    {
        response = new JsonObject { ["id"] = id, ["results"] = new JsonArray(), ["error"] = $"bad request: {e.Message}" };
    }
    catch (Exception e)
    {
        response = new JsonObject { ["id"] = id, ["results"] = new JsonArray(), ["error"] = $"driver failure: {e.GetType().Name}: {e.Message}" };
    }
    await stdout.WriteLineAsync(response.ToJsonString(json));
}
return 0;
