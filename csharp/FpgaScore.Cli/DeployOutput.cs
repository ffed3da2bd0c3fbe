using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FpgaScore.Cli;

/// <summary>
/// The text and the JSON documents of <c>fpgascore service|model ...</c>, as the Python and Go commands print them: the
/// same lines, the same fields in the same order (a service's keys only when the call returned them).
/// </summary>
internal static class DeployOutput
{
    /// <summary>Indented by two spaces as Python's <c>json.dump(indent=2)</c>; quotes and non-ASCII text as they are (the
    /// document goes to a terminal or a program, not into HTML).</summary>
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary><paramref name="document"/> as indented JSON and a newline.</summary>
    public static string Json(JsonNode document) => document.ToJsonString(s_json) + "\n";

    /// <summary>A state as the API names it: <c>RUNNING</c>, <c>FAILED</c>, ... (<c>UNKNOWN</c> for a newer manager's).</summary>
    public static string StateName(ServiceState state) => state.ToString().ToUpperInvariant();

    /// <summary>A service's document: <c>id</c>, <c>name</c>, <c>state</c>, <c>model_id</c>, <c>ip_address</c>, <c>port</c>,
    /// <c>ssl_enabled</c>, <c>num_replicas</c>, <c>runtime</c>, then <c>state_message</c> and <c>certificate_sha256</c> when
    /// set, and <c>primary_key</c> and <c>secondary_key</c> when the call returned them.</summary>
    public static JsonObject ServiceDocument(Service service)
    {
        var document = new JsonObject
        {
            ["id"] = service.Id,
            ["name"] = service.Name,
            ["state"] = StateName(service.State),
            ["model_id"] = service.ModelId,
            ["ip_address"] = service.IpAddress,
            ["port"] = service.Port,
            ["ssl_enabled"] = service.SslEnabled,
            ["num_replicas"] = service.NumReplicas,
            ["runtime"] = service.Runtime,
        };
        if (service.StateMessage.Length > 0) document["state_message"] = service.StateMessage;
        if (service.CertificateSha256.Length > 0) document["certificate_sha256"] = service.CertificateSha256;
        if (!string.IsNullOrEmpty(service.PrimaryKey))
        {
            document["primary_key"] = service.PrimaryKey;
            document["secondary_key"] = service.SecondaryKey ?? "";
        }
        return document;
    }

    /// <summary><c>service NAME (ID): STATE at ADDRESS, SSL on, model M, N replicas</c>, the state's message, and the keys
    /// when the call returned them (create, and an update that turned SSL on): printed this once.</summary>
    public static string ServiceText(Service service)
    {
        var text = new StringBuilder();
        var ssl = service.SslEnabled ? "SSL on" : "SSL off (no keys)";
        var replicas = service.NumReplicas == 1 ? "replica" : "replicas";
        text.Append(CultureInfo.InvariantCulture,
            $"service {service.Name} ({service.Id}): {StateName(service.State)} at {service.Address}, {ssl}, model {service.ModelId}, {service.NumReplicas} {replicas}\n");
        if (service.StateMessage.Length > 0) text.Append("  ").Append(service.StateMessage).Append('\n');
        if (!string.IsNullOrEmpty(service.PrimaryKey)) text.Append(KeysText(new AuthKeys(service.PrimaryKey, service.SecondaryKey ?? "")));
        return text.ToString();
    }

    /// <summary>One line per service: name, id, state, address, <c>ssl</c> or <c>plaintext</c>, model; tab-separated.</summary>
    public static string ServiceListText(IEnumerable<Service> services)
    {
        var text = new StringBuilder();
        foreach (var s in services)
            text.Append(CultureInfo.InvariantCulture,
                $"{s.Name}\t{s.Id}\t{StateName(s.State)}\t{s.Address}\t{(s.SslEnabled ? "ssl" : "plaintext")}\t{s.ModelId}\n");
        return text.ToString();
    }

    /// <summary>The keys, what <c>keys</c> and <c>regenerate-keys</c> are asked for (and nowhere else).</summary>
    public static string KeysText(AuthKeys keys) => $"primary key:   {keys.PrimaryKey}\nsecondary key: {keys.SecondaryKey}\n";

    public static JsonObject KeysDocument(AuthKeys keys) => new()
    {
        ["primary_key"] = keys.PrimaryKey,
        ["secondary_key"] = keys.SecondaryKey,
    };

    /// <summary>A model's document: <c>id</c>, <c>name</c>, <c>version</c>, <c>description</c>, <c>tags</c> (by key).</summary>
    public static JsonObject ModelDocument(Model model)
    {
        var tags = new JsonObject();
        foreach (var (key, value) in model.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) tags[key] = value;
        return new JsonObject
        {
            ["id"] = model.Id,
            ["name"] = model.Name,
            ["version"] = model.Version,
            ["description"] = model.Description,
            ["tags"] = tags,
        };
    }

    /// <summary>One line per model: id and description, tab-separated.</summary>
    public static string ModelListText(IEnumerable<Model> models) =>
        string.Concat(models.Select(m => $"{m.Id}\t{m.Description}\n"));

    /// <summary>The line of a call the manager refused or that failed: <c>error: CODE: message (request-id ID)</c>, the
    /// message bounded (<see cref="Output.MaxErrorChars"/>).</summary>
    public static string CallFailed(ScoringException error)
    {
        var requestId = string.IsNullOrEmpty(error.RequestId) ? "" : $" (request-id {error.RequestId})";
        return $"error: {ScoringException.CodeName(error.StatusCode)}: {Output.Bounded(error.Details)}{requestId}";
    }
}
