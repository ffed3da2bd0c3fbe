using Grpc.Core;

namespace FpgaScore.Cli;

/// <summary>
/// <c>fpgascore score</c>: scores the images in calls of <c>--batch-size</c>, one after another, and prints the
/// top-k of each in the order given. The first call that fails (or an image that cannot be read) ends the run
/// with exit status 1: what was scored is printed, the error and the images not scored go to stderr (and into
/// the JSON document). Bad usage or configuration (a key without TLS, an unset key variable) is exit status 2.
/// </summary>
internal static class ScoreCommand
{
    /// <param name="args">The parsed command line.</param>
    /// <param name="stdout">Where the results go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="headers">Extra metadata for every call (tests: the reference server's conformance controls).</param>
    public static async Task<int> RunAsync(CliArguments args, TextWriter stdout, TextWriter stderr, Metadata? headers = null)
    {
        string? key = null, secondary = null;
        foreach (var (variable, set) in new (string?, Action<string>)[] { (args.KeyEnv, k => key = k), (args.SecondaryKeyEnv, k => secondary = k) })
        {
            if (variable is null) continue;
            var value = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(value))
            {
                await stderr.WriteLineAsync($"fpgascore: environment variable {variable} is not set or empty");
                return 2;
            }
            set(value);
        }
        if ((key ?? secondary) is not null && !args.Ssl && !args.AllowInsecureKey)
        {
            await stderr.WriteLineAsync($"fpgascore: {CliArguments.KeyWithoutTls}");
            return 2;
        }
        ScoringClient client;
        try
        {
            client = new ScoringClient(new ScoringClientOptions
            {
                Host = args.Host,
                Port = args.Port,
                UseSsl = args.Ssl,
                RootCertificatesFile = args.CaFile,
                ServerNameOverride = args.ServerName,
                AccessToken = key,
                SecondaryAccessToken = secondary,
                AuthScheme = args.Bearer ? AuthScheme.Bearer : AuthScheme.Raw,
                AllowInsecureKey = args.AllowInsecureKey,
                Timeout = TimeSpan.FromSeconds(args.TimeoutSeconds),
                RetryPolicy = new RetryPolicy { MaxAttempts = args.Retries },
                ModelName = args.Model,
            });
        }
        catch (Exception e) when (e is ScoringException or ArgumentException)
        {
            var message = e is ScoringException se ? se.Details : e.Message;
            await stderr.WriteLineAsync($"fpgascore: {message}"); // the configuration: a usage error
            return 2;
        }
        using (client)
        {
            var scored = new List<Output.Scored>();
            for (int start = 0; start < args.Images.Count; start += args.BatchSize)
            {
                var batch = args.Images.Skip(start).Take(args.BatchSize).ToArray();
                var images = new List<byte[]>();
                for (int i = 0; i < batch.Length; i++)
                {
                    try
                    {
                        images.Add(File.ReadAllBytes(batch[i]));
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                    {
                        var why = e switch
                        {
                            FileNotFoundException or DirectoryNotFoundException => "no such file",
                            UnauthorizedAccessException => "permission denied or a directory",
                            _ => e.Message,
                        };
                        var failed = new Output.Failed(batch[i], "INVALID_ARGUMENT", $"cannot read '{batch[i]}': {why}", "");
                        return await FailAsync(stdout, stderr, args, scored, [failed], [start + i], "");
                    }
                }
                try
                {
                    var result = await client.ScoreWithDetailsAsync<float[,]>(new ImageRequest(images), headers);
                    var rows = Predictions.TopK(result.Scores, args.Top);
                    var done = batch.Select((image, i) => new Output.Scored(image, rows[i], result.RequestId)).ToList();
                    if (!args.Json) await stdout.WriteAsync(Output.Text(done));
                    scored.AddRange(done);
                }
                catch (ScoringException e)
                {
                    var code = ScoringException.CodeName(e.StatusCode);
                    var failed = batch.Select(image => new Output.Failed(image, code, e.Details, e.RequestId)).ToList();
                    var hint = Batches.TooLarge(e, batch.Length)
                        ? $"the server refused {batch.Length} images in one call: lower --batch-size (it is {args.BatchSize})" : "";
                    return await FailAsync(stdout, stderr, args, scored, failed, Enumerable.Range(start, batch.Length).ToList(), hint);
                }
            }
            if (args.Json) await stdout.WriteAsync(Output.Json(scored));
            return 0;
        }
    }

    /// <summary>Reports the images at <paramref name="failedAt"/> not scored (those of the failed call, or one that could
    /// not be read): the JSON document, the error (its message bounded), <paramref name="hint"/>, which images were not
    /// scored; returns the exit status, 1.</summary>
    private static async Task<int> FailAsync(TextWriter stdout, TextWriter stderr, CliArguments args, List<Output.Scored> scored,
        List<Output.Failed> failed, List<int> failedAt, string hint)
    {
        var done = scored.Count;
        if (args.Json)
        {
            var notScored = args.Images.Select((image, i) => (image, i)).Where(e => e.i >= done && !failedAt.Contains(e.i))
                .Select(e => e.image).ToList();
            await stdout.WriteAsync(Output.Json(scored, failed, notScored));
        }
        var first = failed[0];
        var requestId = string.IsNullOrEmpty(first.RequestId) ? "" : $" (request-id {first.RequestId})";
        await stderr.WriteLineAsync($"fpgascore: {first.Code}: {Output.Bounded(first.Message)}{requestId}");
        if (hint.Length > 0) await stderr.WriteLineAsync($"fpgascore: {hint}");
        if (args.Images.Count > args.BatchSize)
        {
            var left = args.Images.Count - done - 1;
            await stderr.WriteLineAsync($"fpgascore: {done} of {args.Images.Count} images scored; not scored: {args.Images[done]}" +
                                        (left > 0 ? $" and the {left} after it" : ""));
        }
        return 1;
    }
}
