using System.Text.Json;
using FpgaScore.Cli;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>
/// <c>fpgascore service ...</c> and <c>fpgascore model ...</c> of the C# command against a real manager (process runtime):
/// a service's lifecycle (register, create without and with SSL, keys, regenerate-keys, update, get and list as text and
/// JSON, export, delete), the manager's refusals (exit 1, the code on stderr), usage and configuration (exit 2), a wrong
/// admin token (exit 1, never printed). What the command prints is checked against the manager itself, through
/// <see cref="DeploymentClient"/>, and by scoring with the printed key at the printed address.
/// </summary>
public sealed class CliServiceTests
{
    private const string GivenPrimary = "given-primary-key-0123456789abcdef";

    [Fact]
    public async Task AServicesLifecycleFromTheCommandLine()
    {
        using var manager = await Manager.StartAsync();
        using var pki = new Pki();
        var env = Commands.EnvironmentOf(manager);
        env["GIVEN_PRIMARY"] = GivenPrimary;
        async Task<CommandResult> Expect(int code, params string[] args)
        {
            var result = await Commands.CSharpAsync(env, args);
            Assert.True(result.Code == code, $"fpgascore {string.Join(" ", args)}: {result}");
            Assert.DoesNotContain(manager.Token, result.All);
            return result;
        }

        Assert.Equal("model resnet50:1 registered\n",
            (await Expect(0, "model", "register", "--name", "resnet50", "--description", "emulated", "--tag", "team=vision", "--tag=tier")).Stdout);
        using (var models = JsonDocument.Parse((await Expect(0, "model", "list", "--json")).Stdout))
        {
            var model = Assert.Single(models.RootElement.EnumerateArray());
            Assert.Equal(["id", "name", "version", "description", "tags"], model.EnumerateObject().Select(p => p.Name));
            Assert.Equal(("resnet50:1", "resnet50", 1, "emulated"), (model.GetProperty("id").GetString(), model.GetProperty("name").GetString(),
                model.GetProperty("version").GetInt32(), model.GetProperty("description").GetString()));
            Assert.Equal("{\"team\":\"vision\",\"tier\":\"\"}", model.GetProperty("tags").GetRawText().Replace(" ", "").Replace("\n", ""));
        }
        Assert.Equal("resnet50:1\temulated\n", (await Expect(0, "model", "list")).Stdout);

        // Without SSL: no keys; with SSL: the address and both keys, once.
        var plain = (await Expect(0, "service", "create", "--name", "plain", "--model", "resnet50")).Stdout;
        Assert.Matches(@"^service plain \(svc_[0-9a-f]+\): RUNNING at 127\.0\.0\.1:[0-9]+, SSL off \(no keys\), model resnet50:1, 1 replica\n$", plain);
        var created = (await Expect(0, "service", "create", "--name", "demo", "--ssl", "--cert", pki.Server.Cert, "--key", pki.Server.Key,
            "--primary-key-env", "GIVEN_PRIMARY")).Stdout;
        var lines = created.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^service demo \(svc_[0-9a-f]+\): RUNNING at 127\.0\.0\.1:[0-9]+, SSL on, model resnet50:1, 1 replica$", lines[0]);
        Assert.Equal($"primary key:   {GivenPrimary}", lines[1]);
        Assert.StartsWith("secondary key: ", lines[2]);
        var secondary = lines[2]["secondary key: ".Length..];
        Assert.True(secondary.Length >= 40, lines[2]);
        var address = lines[0].Split(" at ")[1].Split(',')[0];
        using (var deployments = manager.Client())
        {
            var service = await deployments.GetServiceAsync("demo");
            Assert.Equal(address, service.Address);
            Assert.Equal(new AuthKeys(GivenPrimary, secondary), await deployments.GetAuthKeysAsync(service.Id));
        }
        await AssertScoresAsync(address, secondary, pki.CaFile);

        // get shows no key; keys prints them; regenerate-keys replaces the one asked for.
        var shown = (await Expect(0, "service", "get", "demo")).Stdout;
        Assert.Equal(lines[0] + "\n", shown);
        using (var json = JsonDocument.Parse((await Expect(0, "service", "get", "demo", "--json")).Stdout))
        {
            Assert.Equal(["id", "name", "state", "model_id", "ip_address", "port", "ssl_enabled", "num_replicas", "runtime", "certificate_sha256"],
                json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(address, $"{json.RootElement.GetProperty("ip_address").GetString()}:{json.RootElement.GetProperty("port").GetInt32()}");
            Assert.True(json.RootElement.GetProperty("ssl_enabled").GetBoolean());
            Assert.Equal("process", json.RootElement.GetProperty("runtime").GetString());
        }
        Assert.Equal($"primary key:   {GivenPrimary}\nsecondary key: {secondary}\n", (await Expect(0, "service", "keys", "demo")).Stdout);
        string rotated;
        using (var keys = JsonDocument.Parse((await Expect(0, "service", "regenerate-keys", "demo", "--type", "secondary", "--json")).Stdout))
        {
            Assert.Equal(["primary_key", "secondary_key"], keys.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(GivenPrimary, keys.RootElement.GetProperty("primary_key").GetString());
            rotated = keys.RootElement.GetProperty("secondary_key").GetString()!;
            Assert.NotEqual(secondary, rotated);
        }
        using (var deployments = manager.Client())
            Assert.Equal(new AuthKeys(GivenPrimary, rotated), await deployments.GetAuthKeysAsync("demo"));
        await AssertScoresAsync(address, rotated, pki.CaFile);

        // update: two replicas behind the same address.
        using (var updated = JsonDocument.Parse((await Expect(0, "service", "update", "demo", "--replicas", "2", "--json")).Stdout))
        {
            Assert.Equal(2, updated.RootElement.GetProperty("num_replicas").GetInt32());
            Assert.False(updated.RootElement.TryGetProperty("primary_key", out _)); // scaling issues no keys
        }
        using (var deployments = manager.Client())
            Assert.Equal(2, (await deployments.GetServiceAsync("demo")).NumReplicas);

        // list: one line (one document) per service, no key.
        var listed = (await Expect(0, "service", "list")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, listed.Length);
        Assert.Matches(@"^plain\tsvc_[0-9a-f]+\tRUNNING\t127\.0\.0\.1:[0-9]+\tplaintext\tresnet50:1$", listed[0]);
        Assert.Matches($@"^demo\tsvc_[0-9a-f]+\tRUNNING\t{address.Replace(".", @"\.")}\tssl\tresnet50:1$", listed[1]);
        var listJson = (await Expect(0, "service", "list", "--json")).Stdout;
        Assert.DoesNotContain(GivenPrimary, listJson);
        using (var list = JsonDocument.Parse(listJson))
        {
            Assert.Equal(["plain", "demo"], list.RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString()));
            Assert.Equal([false, true], list.RootElement.EnumerateArray().Select(s => s.GetProperty("ssl_enabled").GetBoolean()));
            Assert.Equal([1, 2], list.RootElement.EnumerateArray().Select(s => s.GetProperty("num_replicas").GetInt32()));
        }

        // export -o: the manifests in a file only its owner reads.
        var manifests = Path.Combine(RunDirectory.Path, "demo-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        await File.WriteAllTextAsync(manifests, "an older, longer file that the export must replace entirely\n" + new string('x', 10_000));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(manifests, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal($"wrote the manifests of demo to {manifests} (0600; they hold its keys)\n",
            (await Expect(0, "service", "export", "--kubernetes", "demo", "-o", manifests)).Stdout);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(manifests));
        using (var deployments = manager.Client())
            Assert.Equal(await deployments.ExportKubernetesAsync("demo"), await File.ReadAllTextAsync(manifests));
        File.Delete(manifests);

        // The manager's refusals: exit 1, one line naming the code.
        var missing = await Expect(1, "service", "get", "missing");
        Assert.Equal("", missing.Stdout);
        Assert.Equal("error: NOT_FOUND: service 'missing' not found\n", missing.Stderr);
        var taken = await Expect(1, "service", "create", "--name", "plain");
        Assert.StartsWith("error: ALREADY_EXISTS: ", taken.Stderr);
        Assert.Contains("'plain'", taken.Stderr);
        Assert.Single(taken.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: FAILED_PRECONDITION: ", (await Expect(1, "service", "keys", "plain")).Stderr);

        // delete, then the service is gone.
        Assert.Equal("service demo deleted\n", (await Expect(0, "service", "delete", "demo")).Stdout);
        Assert.Equal("{\n  \"deleted\": \"plain\"\n}\n", (await Expect(0, "service", "delete", "plain", "--json")).Stdout);
        Assert.Equal("", (await Expect(0, "service", "list")).Stdout);
        Assert.Equal("[]\n", (await Expect(0, "service", "list", "--json")).Stdout);
        Assert.StartsWith("error: NOT_FOUND: ", (await Expect(1, "service", "delete", "demo")).Stderr);
    }

    [Fact]
    public async Task AWrongAdminTokenIsExitOneAndNeverPrinted()
    {
        using var manager = await Manager.StartAsync();
        var wrong = "wrong-admin-token-" + Guid.NewGuid().ToString("N");
        var tokenFile = Path.Combine(RunDirectory.Path, "token-" + Guid.NewGuid().ToString("N")[..8]);
        await File.WriteAllTextAsync(tokenFile, manager.Token + "\n");
        try
        {
            var env = new Dictionary<string, string> { ["WRONG"] = wrong, [DeploySettings.ManagerEnvironmentVariable] = manager.Address };
            foreach (var args in new[] { new[] { "service", "list", "--admin-token-env", "WRONG" }, ["model", "list", "--admin-token-env", "WRONG", "--json"] })
            {
                var refused = await Commands.CSharpAsync(env, args);
                Assert.True(refused.Code == 1, refused.ToString());
                Assert.StartsWith("error: UNAUTHENTICATED: ", refused.Stderr);
                Assert.DoesNotContain(wrong, refused.All);
                Assert.Equal("", refused.Stdout);
            }
            // The same manager with the right token from a file (and --manager over $FPGASCORE_MANAGER).
            var fromFile = await Commands.CSharpAsync(new Dictionary<string, string> { [DeploySettings.ManagerEnvironmentVariable] = "127.0.0.1:1" },
                "service", "list", "--json", "--admin-token-file", tokenFile, "--manager", manager.Address);
            Assert.True(fromFile.Code == 0, fromFile.ToString());
            Assert.Equal("[]\n", fromFile.Stdout);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["service"], "service: no action given" },
        { ["service", "frobnicate", "demo"], "unknown action 'frobnicate' of service" },
        { ["model", "delete", "m"], "unknown action 'delete' of model" },
        { ["service", "get"], "service get takes one SERVICE (an id or a name)" },
        { ["service", "get", "a", "b"], "service get takes one SERVICE (an id or a name)" },
        { ["service", "list", "extra"], "service list takes no argument ('extra')" },
        { ["service", "get", "demo", "--replicas", "2"], "service get does not take --replicas" },
        { ["service", "get", "demo", "--nope"], "unknown option --nope" },
        { ["service", "get", "demo", "-x"], "unknown option -x" },
        { ["service", "regenerate-keys", "demo", "--type", "tertiary"], "--type must be primary or secondary, not 'tertiary'" },
        { ["service", "regenerate-keys", "demo"], "regenerate-keys needs --type primary|secondary" },
        { ["service", "create"], "service create needs --name" },
        { ["model", "register", "--description", "d"], "model register needs --name" },
        { ["service", "create", "--name", "x", "--cert", "c.pem", "--key", "k.pem"], "--cert and --key need --ssl" },
        { ["service", "update", "demo", "--ssl", "--no-ssl"], "--ssl and --no-ssl contradict each other" },
        { ["service", "update", "demo", "--replicas", "0"], "--replicas must be at least 1" },
        { ["service", "update", "demo", "--replicas", "two"], "--replicas needs a whole number, not 'two'" },
        { ["service", "export", "demo"], "service export needs --kubernetes (the one format)" },
        { ["service", "list", "--timeout", "0"], "--timeout must be a positive number of seconds, not '0'" },
        { ["service", "list", "--timeout", "NaN"], "--timeout must be a positive number of seconds, not 'NaN'" },
        { ["service", "list", "--manager"], "--manager needs a value" },
        { ["service", "list", "--json=yes"], "--json takes no value" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task UsageErrorsAreExitTwoWithTheUsage(string[] args, string message)
    {
        var env = new Dictionary<string, string> { [DeploymentClientOptions.AdminTokenEnvironmentVariable] = "admin-token-never-used-0123" };
        var result = await Commands.CSharpAsync(env, args);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.StartsWith($"fpgascore: {message}\n", result.Stderr);
        Assert.Contains(DeployArguments.Usage, result.Stderr);
    }

    [Fact]
    public async Task ConfigurationErrorsAreExitTwoAndNameTheSetting()
    {
        var missing = Path.Combine(RunDirectory.Path, "missing-" + Guid.NewGuid().ToString("N")[..8] + ".pem");
        var notPem = Path.Combine(RunDirectory.Path, "not-pem-" + Guid.NewGuid().ToString("N")[..8]);
        const string secretish = "a private key pasted without its header";
        await File.WriteAllTextAsync(notPem, secretish);
        var emptyToken = notPem + ".token";
        await File.WriteAllTextAsync(emptyToken, " \n");
        var token = "admin-token-never-used-" + Guid.NewGuid().ToString("N");
        var env = new Dictionary<string, string> { [DeploymentClientOptions.AdminTokenEnvironmentVariable] = token, ["EMPTY"] = "" };
        try
        {
            foreach (var (args, message) in new (string[], string)[]
                     {
                         (["service", "list", "--admin-token-env", "UNSET_VARIABLE_0123"], "no admin token: set UNSET_VARIABLE_0123 (or --admin-token-file)"),
                         (["service", "list", "--admin-token-env", "EMPTY"], "no admin token: set EMPTY (or --admin-token-file)"),
                         (["service", "list", "--admin-token-file", missing], $"--admin-token-file: no such file or directory: {missing}"),
                         (["service", "list", "--admin-token-file", emptyToken], $"--admin-token-file: {emptyToken} is empty"),
                         (["service", "create", "--name", "x", "--ssl", "--cert", missing, "--key", notPem], $"--cert: no such file or directory: {missing}"),
                         (["service", "update", "x", "--key", notPem], $"--key: {notPem} is not a PEM file (no '-----BEGIN')"),
                         (["service", "list", "--manager-ca", missing], $"--manager-ca: no such file or directory: {missing}"),
                         (["service", "create", "--name", "x", "--primary-key-env", "EMPTY"], "environment variable EMPTY is not set or empty"),
                         (["service", "list", "--manager", "nohost"], "the manager's address (--manager or FPGASCORE_MANAGER) must be 'host:port'"),
                         (["service", "list", "--manager", "10.1.2.3:50055"], "the admin token goes over plaintext only to a loopback manager"),
                     })
            {
                var result = await Commands.CSharpAsync(env, args);
                Assert.True(result.Code == 2, $"{string.Join(" ", args)}: {result}");
                Assert.StartsWith($"fpgascore: {message}", result.Stderr);
                Assert.Equal("", result.Stdout);
                Assert.DoesNotContain(token, result.All);
                Assert.DoesNotContain(secretish, result.All);
            }
        }
        finally
        {
            File.Delete(notPem);
            File.Delete(emptyToken);
        }
    }

    [Fact]
    public async Task HelpGoesToStdout()
    {
        foreach (var args in new[] { new[] { "service", "--help" }, ["model", "-h"], ["service", "create", "--name", "x", "--help"] })
        {
            var result = await Commands.CSharpAsync(new Dictionary<string, string>(), args);
            Assert.Equal((0, DeployArguments.Usage + "\n", ""), (result.Code, result.Stdout, result.Stderr));
        }
    }

    /// <summary>Scores gradient.jpg at <paramref name="address"/> over TLS (roots <paramref name="caFile"/>) with <paramref name="key"/>.</summary>
    private static async Task AssertScoresAsync(string address, string key, string caFile)
    {
        var colon = address.LastIndexOf(':');
        using var client = new ScoringClient(new ScoringClientOptions
        {
            Host = address[..colon],
            Port = int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture),
            UseSsl = true,
            RootCertificatesFile = caFile,
            AccessToken = key,
            RetryPolicy = RetryPolicy.NoRetries,
            Timeout = TimeSpan.FromSeconds(30),
        });
        await Scoring.AssertScoresAsync(client);
    }
}
