using Grpc.Core;

namespace FpgaScore.Cli;

/// <summary>
/// <c>fpgascore score</c>: scores the images in calls of <c>--batch-size</c>, one after another, and prints the
/// top-k of each in the order given. The first call that fails ends the run: what was scored is printed, the
/// error and the images not scored go to stderr (and into the JSON document).
/// </summary>
internal static class ScoreCommand
{
    /// <param name="args">The parsed command line.</param>
    /// <param name="stdout">Where the results go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="headers">Extra metadata for every call (tests: the reference server's conformance controls).</param>
    public static async Task<int> RunAsync(CliArguments args, TextWriter stdout, TextWriter stderr, Metadata? headers = null)
    {
        string? key = null;
        if (args.KeyEnv is not null)
        {
            key = Environment.GetEnvironmentVariable(args.KeyEnv);
            if (string.IsNullOrEmpty(key))
            {
                await stderr.WriteLineAsync($"fpgascore: environment variable {args.KeyEnv} is not set");
                return 2;
            }
        }
        var scored = new List<Output.Scored>();
        var batch = args.Images.Take(args.BatchSize).ToArray();
        try
        {
            using var client = new ScoringClient(new ScoringClientOptions
            {
                Host = args.Host,
                Port = args.Port,
                UseSsl = args.Ssl,
                RootCertificatesFile = args.CaFile,
                ServerNameOverride = args.ServerName,
                AccessToken = key,
                AuthScheme = args.Bearer ? AuthScheme.Bearer : AuthScheme.Raw,
                AllowInsecureKey = args.AllowInsecureKey,
                Timeout = TimeSpan.FromSeconds(args.TimeoutSeconds),
            });
            for (int start = 0; start < args.Images.Count; start += args.BatchSize)
            {
                batch = args.Images.Skip(start).Take(args.BatchSize).ToArray();
                var result = await client.ScoreWithDetailsAsync<float[,]>(ImageRequest.FromFiles(batch), headers);
                var rows = Predictions.TopK(result.Scores, args.Top);
                var done = batch.Select((image, i) => new Output.Scored(image, rows[i], result.RequestId)).ToList();
                if (!args.Json) await stdout.WriteAsync(Output.Text(done));
                scored.AddRange(done);
            }
        }
        catch (ScoringException e)
        {
            if (args.Json) await stdout.WriteAsync(Output.Json(scored, args.Images.Skip(scored.Count).ToList(), e));
            await ReportAsync(stderr, e, args, batch.Length, scored.Count);
            return 1;
        }
        catch (IOException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {e.Message}");
            return 1;
        }
        if (args.Json) await stdout.WriteAsync(Output.Json(scored));
        return 0;
    }

    /// <summary>The error (its message bounded), the advice to lower <c>--batch-size</c> for a call refused as too
    /// large, and which images were not scored.</summary>
    private static async Task ReportAsync(TextWriter stderr, ScoringException e, CliArguments args, int sent, int done)
    {
        var requestId = string.IsNullOrEmpty(e.RequestId) ? "" : $" (request-id {e.RequestId})";
        await stderr.WriteLineAsync($"fpgascore: {e.StatusCode}: {Output.Bounded(e.Details)}{requestId}");
        if (Batches.TooLarge(e, sent))
            await stderr.WriteLineAsync($"fpgascore: the server refused {sent} images in one call: lower --batch-size (it is {args.BatchSize})");
        if (args.Images.Count > args.BatchSize)
        {
            var left = args.Images.Count - done - 1;
            await stderr.WriteLineAsync($"fpgascore: {done} of {args.Images.Count} images scored; not scored: {args.Images[done]}" +
                                        (left > 0 ? $" and the {left} after it" : ""));
        }
    }
}
