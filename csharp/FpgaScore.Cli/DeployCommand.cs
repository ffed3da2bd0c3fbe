namespace FpgaScore.Cli;

/// <summary>
/// <c>fpgascore service ...</c> and <c>fpgascore model ...</c>: the lifecycle verbs on the manager, through
/// <see cref="DeploymentClient"/>. Exit status 0 when done; 1 when the manager refused the call or it failed (the code
/// and message on stderr: <c>error: NOT_FOUND: ...</c>); 2 for usage or configuration (no admin token, an unreadable
/// PEM file, an unset key variable, a bad address); 130 when cancelled (Ctrl+C).
/// </summary>
internal static class DeployCommand
{
    /// <summary>The exit status of a run cancelled by <c>Ctrl+C</c> (128 + SIGINT, as a shell reports a process it stopped).</summary>
    public const int Cancelled = 130;

    /// <summary>The command from its arguments (<paramref name="args"/>[0] is <c>service</c> or <c>model</c>): a usage error
    /// prints the message and <see cref="DeployArguments.Usage"/> on stderr (exit 2), <c>--help</c> the usage on stdout.</summary>
    public static async Task<int> MainAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, string?> getenv,
        CancellationToken cancellationToken)
    {
        DeployArguments parsed;
        try
        {
            parsed = DeployArguments.Parse(args);
        }
        catch (ArgumentException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {e.Message}\n{DeployArguments.Usage}");
            return 2;
        }
        if (parsed.Help)
        {
            await stdout.WriteLineAsync(DeployArguments.Usage);
            return 0;
        }
        return await RunAsync(parsed, stdout, stderr, getenv, cancellationToken);
    }

    /// <summary>Runs a parsed command: reads what its flags name (<see cref="DeploySettings"/>), makes the client, runs the verb.</summary>
    /// <param name="args">The parsed command line.</param>
    /// <param name="stdout">Where the output goes.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="getenv">Looks up an environment variable (the token, the keys, the manager's address).</param>
    /// <param name="cancellationToken">Cancels the call in flight (Ctrl+C).</param>
    public static async Task<int> RunAsync(DeployArguments args, TextWriter stdout, TextWriter stderr, Func<string, string?> getenv,
        CancellationToken cancellationToken)
    {
        DeploySettings settings;
        DeploymentClient client;
        try
        {
            settings = DeploySettings.Load(args, getenv);
        }
        catch (ArgumentException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {e.Message}"); // the configuration: a usage error
            return 2;
        }
        try
        {
            client = new DeploymentClient(settings.Client);
        }
        catch (ScoringException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {settings.Explain(e)}");
            return 2;
        }
        using (client)
        {
            try
            {
                return await RunVerbAsync(client, args, settings, stdout, cancellationToken);
            }
            catch (Exception e) when (e is ScoringException or OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                await stderr.WriteLineAsync("fpgascore: cancelled");
                return Cancelled;
            }
            catch (ScoringException e)
            {
                await stderr.WriteLineAsync(DeployOutput.CallFailed(e));
                return 1;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"fpgascore: cannot write {args.Output}: {e.Message}"); // export -o
                return 1;
            }
        }
    }

    /// <summary>Runs the verb on <paramref name="client"/> and prints its result; a refusal is a <see cref="ScoringException"/>.</summary>
    public static async Task<int> RunVerbAsync(IDeploymentClient client, DeployArguments args, DeploySettings settings, TextWriter stdout,
        CancellationToken cancellationToken)
    {
        async Task<int> Emit(System.Text.Json.Nodes.JsonNode document, string text)
        {
            await stdout.WriteAsync(args.Json ? DeployOutput.Json(document) : text);
            return 0;
        }

        Service service;
        switch ($"{args.Command} {args.Action}")
        {
            case "model register":
                var model = await client.RegisterModelAsync(args.Name!, args.Description, args.Tags, cancellationToken);
                return await Emit(DeployOutput.ModelDocument(model), $"model {model.Id} registered\n");
            case "model list":
                var models = await client.ListModelsAsync(cancellationToken);
                return await Emit(new System.Text.Json.Nodes.JsonArray([.. models.Select(DeployOutput.ModelDocument)]),
                    DeployOutput.ModelListText(models));
            case "service create":
                service = await client.CreateServiceAsync(args.Name!, args.Model ?? "resnet50", new CreateServiceOptions
                {
                    SslEnabled = args.Ssl,
                    SslCertificate = settings.Certificate,
                    SslKey = settings.PrivateKey,
                    PrimaryKey = settings.PrimaryKey,
                    SecondaryKey = settings.SecondaryKey,
                    NumReplicas = args.Replicas ?? 1,
                }, cancellationToken);
                break;
            case "service update":
                service = await client.UpdateServiceAsync(args.Service, new UpdateServiceOptions
                {
                    SslEnabled = args.Ssl ? true : args.NoSsl ? false : null,
                    SslCertificate = settings.Certificate,
                    SslKey = settings.PrivateKey,
                    ModelId = args.Model,
                    NumReplicas = args.Replicas,
                }, cancellationToken);
                break;
            case "service get":
                service = await client.GetServiceAsync(args.Service, cancellationToken);
                break;
            case "service list":
                var services = await client.ListServicesAsync(cancellationToken: cancellationToken);
                return await Emit(new System.Text.Json.Nodes.JsonArray([.. services.Select(DeployOutput.ServiceDocument)]),
                    DeployOutput.ServiceListText(services));
            case "service delete":
                await client.DeleteServiceAsync(args.Service, cancellationToken);
                return await Emit(new System.Text.Json.Nodes.JsonObject { ["deleted"] = args.Service }, $"service {args.Service} deleted\n");
            case "service keys" or "service regenerate-keys":
                var keys = args.Action == "keys"
                    ? await client.GetAuthKeysAsync(args.Service, cancellationToken)
                    : await client.RegenerateAuthKeysAsync(args.Service, args.KeyType, cancellationToken);
                return await Emit(DeployOutput.KeysDocument(keys), DeployOutput.KeysText(keys));
            case "service export":
                var manifests = await client.ExportKubernetesAsync(args.Service, args.Image, args.Replicas, cancellationToken);
                if (args.Output is null)
                {
                    await stdout.WriteAsync(manifests);
                    return 0;
                }
                await PrivateFile.WriteAsync(args.Output, manifests, cancellationToken);
                await stdout.WriteLineAsync($"wrote the manifests of {args.Service} to {args.Output} (0600; they hold its keys)");
                return 0;
            default:
                throw new InvalidOperationException($"no verb {args.Command} {args.Action}"); // DeployArguments.Parse knows them all
        }
        return await Emit(DeployOutput.ServiceDocument(service), DeployOutput.ServiceText(service));
    }
}
