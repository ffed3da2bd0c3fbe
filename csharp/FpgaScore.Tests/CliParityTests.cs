using System.Text.Json;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>
/// The C# and the Python <c>service</c>/<c>model</c> commands agree (conformance/CLIENT_SPEC.md, "command line"): the
/// same verbs, run by each against one real manager, print the same JSON documents (the same fields in the same order,
/// equal but for what is each service's own: id, name, port, keys), the same text and the same error lines, with the
/// same exit codes. The Python command (<c>python3 -m fpgascore</c>) is the peer: not the code under test.
/// </summary>
public sealed class CliParityTests
{
    private const string Description = "the emulated ResNet-50 \"v2\" (für Tests) <b>";

    [Fact]
    public async Task TheCSharpAndPythonCommandsPrintTheSame()
    {
        using var manager = await Manager.StartAsync();
        using var pki = new Pki();
        var env = Commands.EnvironmentOf(manager);
        env["WRONG_TOKEN"] = "wrong-admin-token-0123456789abcdef";
        // Each verb by both commands at once (C# first when inOrder); {lang} in an argument is "cs" or "py", each its own
        // service: what one command does never changes what the other prints, and the next verb starts when both are done.
        async Task<(CommandResult Cs, CommandResult Py)> Run(bool inOrder, int code, string[] args)
        {
            var cs = Commands.CSharpAsync(env, [.. args.Select(a => a.Replace("{lang}", "cs"))]);
            if (inOrder) await cs;
            var py = await Commands.PythonAsync(env, [.. args.Select(a => a.Replace("{lang}", "py"))]);
            var results = (Cs: await cs, Py: py);
            Assert.True(results.Cs.Code == code && py.Code == code,
                $"fpgascore {string.Join(" ", args)}, exit {code} expected\nC#: {results.Cs}\nPython: {py}");
            Assert.DoesNotContain(manager.Token, results.Cs.All + py.All);
            return results;
        }
        Task<(CommandResult Cs, CommandResult Py)> Both(int code, params string[] args) => Run(false, code, args);

        // model register: the same document but for the id and the name.
        var registered = await Both(0, "model", "register", "--name", "m-{lang}", "--description", Description, "--tag", "team=vision", "--tag", "a=1=2",
            "--json");
        AssertSameDocument(registered, "id", "name");
        Assert.Equal("m-cs:1", Parse(registered.Cs).GetProperty("id").GetString());
        var text = await Run(true, 0, ["model", "register", "--name", "resnet50"]);
        Assert.Equal(("model resnet50:1 registered\n", "model resnet50:2 registered\n"), (text.Cs.Stdout, text.Py.Stdout));
        AssertSameDocument(await Both(0, "model", "list", "--json")); // one manager: the same list
        AssertSameText(await Both(0, "model", "list"));

        // create: without SSL (text), with SSL (JSON: the same certificate, so the same fingerprint).
        var plain = await Both(0, "service", "create", "--name", "plain-{lang}");
        AssertSameText(plain, Normalizer(plain));
        var created = await Both(0, "service", "create", "--name", "svc-{lang}", "--ssl", "--cert", pki.Server.Cert, "--key", pki.Server.Key,
            "--json");
        AssertSameDocument(created, "id", "name", "port", "primary_key", "secondary_key");
        Assert.Equal("resnet50:2", Parse(created.Cs).GetProperty("model_id").GetString());
        var normalize = Normalizer(created);

        AssertSameDocument(await Both(0, "service", "get", "svc-{lang}", "--json"), "id", "name", "port");
        AssertSameText(await Both(0, "service", "get", "svc-{lang}"), normalize);
        AssertSameDocument(await Both(0, "service", "list", "--json")); // one manager: the same list
        AssertSameText(await Both(0, "service", "list"));

        // keys: those create printed; regenerate-keys: a new primary, the secondary kept.
        var keys = await Both(0, "service", "keys", "svc-{lang}", "--json");
        AssertSameDocument(keys, "primary_key", "secondary_key");
        foreach (var (result, create) in new[] { (keys.Cs, created.Cs), (keys.Py, created.Py) })
            Assert.Equal(Keys(Parse(create)), Keys(Parse(result)));
        AssertSameText(await Both(0, "service", "keys", "svc-{lang}"), normalize);
        var regenerated = await Both(0, "service", "regenerate-keys", "svc-{lang}", "--type", "primary", "--json");
        AssertSameDocument(regenerated, "primary_key", "secondary_key");
        foreach (var (result, create) in new[] { (regenerated.Cs, created.Cs), (regenerated.Py, created.Py) })
        {
            Assert.NotEqual(Keys(Parse(create)).Primary, Keys(Parse(result)).Primary);
            Assert.Equal(Keys(Parse(create)).Secondary, Keys(Parse(result)).Secondary);
        }

        // update: another certificate (the fingerprint changes the same way), then SSL off.
        var swapped = await Both(0, "service", "update", "svc-{lang}", "--cert", pki.SelfSigned.Cert, "--key", pki.SelfSigned.Key, "--json");
        AssertSameDocument(swapped, "id", "name", "port");
        Assert.NotEqual(Parse(created.Cs).GetProperty("certificate_sha256").GetString(), Parse(swapped.Cs).GetProperty("certificate_sha256").GetString());
        AssertSameText(await Both(0, "service", "update", "svc-{lang}", "--no-ssl"), normalize);

        // The manager's refusals: exit 1 and the same line.
        AssertSameText(await Both(1, "service", "get", "missing"));
        AssertSameText(await Both(1, "service", "create", "--name", "svc-cs"));
        AssertSameText(await Both(1, "service", "keys", "svc-{lang}"), normalize);
        AssertSameText(await Both(1, "service", "create", "--name", "Not_Dns"));
        AssertSameText(await Both(1, "service", "list", "--admin-token-env", "WRONG_TOKEN"));

        AssertSameText(await Both(0, "service", "delete", "plain-{lang}"), Normalizer(plain));
        AssertSameDocument(await Both(0, "service", "delete", "svc-{lang}", "--json"), "deleted");
        AssertSameText(await Both(0, "service", "list", "--json"));
    }

    /// <summary>Both documents have the same fields in the same order, of the same kinds, equal but for <paramref name="own"/>.</summary>
    private static void AssertSameDocument((CommandResult Cs, CommandResult Py) results, params string[] own)
    {
        Assert.Equal("", results.Cs.Stderr);
        AssertSameElement(Parse(results.Cs), Parse(results.Py), "$", own);
    }

    private static void AssertSameElement(JsonElement cs, JsonElement py, string path, string[] own)
    {
        Assert.True(cs.ValueKind == py.ValueKind, $"{path}: C# {cs.ValueKind}, Python {py.ValueKind}");
        switch (cs.ValueKind)
        {
            case JsonValueKind.Object:
                // The same fields in the same order; a model's tags (a map) in any order: C# and Go sort them by key,
                // Python keeps the order of the manager's answer.
                var (csNames, pyNames) = (cs.EnumerateObject().Select(p => p.Name), py.EnumerateObject().Select(p => p.Name));
                if (path.EndsWith(".tags", StringComparison.Ordinal)) (csNames, pyNames) = (csNames.Order(), pyNames.Order());
                Assert.Equal(pyNames, csNames);
                foreach (var property in cs.EnumerateObject())
                {
                    var other = py.GetProperty(property.Name);
                    if (own.Contains(property.Name))
                        Assert.True(property.Value.ValueKind == other.ValueKind, $"{path}.{property.Name}: {property.Value} vs {other}");
                    else
                        AssertSameElement(property.Value, other, $"{path}.{property.Name}", own);
                }
                break;
            case JsonValueKind.Array:
                Assert.True(cs.GetArrayLength() == py.GetArrayLength(), $"{path}: C# {cs}\nPython {py}");
                for (int i = 0; i < cs.GetArrayLength(); i++) AssertSameElement(cs[i], py[i], $"{path}[{i}]", own);
                break;
            default:
                Assert.True(JsonElement.DeepEquals(cs, py), $"{path}: C# {cs.GetRawText()}, Python {py.GetRawText()}");
                break;
        }
    }

    /// <summary>The same stdout and stderr, once <paramref name="normalize"/> has made the Python service's own values the C#'s.</summary>
    private static void AssertSameText((CommandResult Cs, CommandResult Py) results, Func<string, string>? normalize = null)
    {
        normalize ??= s => s;
        Assert.Equal(normalize(results.Py.Stdout), results.Cs.Stdout); // expected: the peer's
        Assert.Equal(normalize(results.Py.Stderr), results.Cs.Stderr);
    }

    /// <summary>Replaces what is the Python service's own (name, id, port, keys) with the C# service's, from the documents
    /// or the text lines of a create by both.</summary>
    private static Func<string, string> Normalizer((CommandResult Cs, CommandResult Py) created)
    {
        var pairs = new List<(string Py, string Cs)>();
        if (created.Cs.Stdout.TrimStart().StartsWith('{'))
        {
            var (cs, py) = (Parse(created.Cs), Parse(created.Py));
            foreach (var field in new[] { "id", "primary_key", "secondary_key", "name" })
                if (cs.TryGetProperty(field, out var value)) pairs.Add((py.GetProperty(field).GetString()!, value.GetString()!));
            pairs.Add(($":{py.GetProperty("port").GetInt32()}", $":{cs.GetProperty("port").GetInt32()}"));
        }
        else
        {
            // service NAME (ID): STATE at HOST:PORT, ...
            string[] Fields(string line) => [line.Split(' ')[1], line.Split('(', ')')[1], ":" + line.Split(" at ")[1].Split(',')[0].Split(':')[^1]];
            var (cs, py) = (Fields(created.Cs.Stdout), Fields(created.Py.Stdout));
            pairs.AddRange([(py[1], cs[1]), (py[0], cs[0]), (py[2], cs[2])]);
        }
        return text => pairs.Aggregate(text, (t, p) => t.Replace(p.Py, p.Cs, StringComparison.Ordinal));
    }

    private static (string? Primary, string? Secondary) Keys(JsonElement document) =>
        (document.GetProperty("primary_key").GetString(), document.GetProperty("secondary_key").GetString());

    private static JsonElement Parse(CommandResult result)
    {
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }
}
