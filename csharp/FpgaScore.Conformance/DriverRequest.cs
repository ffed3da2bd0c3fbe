using System.Text.Json;

namespace FpgaScore.Conformance;

/// <summary>Typed access to one request line's fields (missing or null fields give the default).</summary>
internal sealed class DriverRequest(JsonElement root)
{
    public JsonElement Root => root;

    public string? Id => root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;

    public string? String(string key) => Get(key, JsonValueKind.String, "a string")?.GetString();

    public long? Integer(string key)
    {
        var value = Get(key, JsonValueKind.Number, "an integer");
        if (value is null) return null;
        return value.Value.TryGetInt64(out var n) ? n : throw new BadRequestException($"'{key}' must be an integer");
    }

    public double? Number(string key) => Get(key, JsonValueKind.Number, "a number")?.GetDouble();

    public bool Flag(string key)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return false;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new BadRequestException($"'{key}' must be a boolean"),
        };
    }

    public JsonElement? Object(string key) => Get(key, JsonValueKind.Object, "an object");

    public JsonElement? Array(string key) => Get(key, JsonValueKind.Array, "a list");

    public IReadOnlyList<string> Strings(string key) =>
        Array(key)?.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
            ? e.GetString()!
            : throw new BadRequestException($"'{key}' must be a list of strings")).ToList() ?? [];

    /// <summary>The line's metadata, keys lower-cased, values as text.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata()
    {
        var metadata = Object("metadata");
        if (metadata is null) return [];
        return metadata.Value.EnumerateObject()
            .Select(p => new KeyValuePair<string, string>(p.Name.ToLowerInvariant(),
                p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()))
            .ToList();
    }

    private JsonElement? Get(string key, JsonValueKind kind, string what)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != kind) throw new BadRequestException($"'{key}' must be {what}, not {value.ValueKind}");
        return value;
    }
}
