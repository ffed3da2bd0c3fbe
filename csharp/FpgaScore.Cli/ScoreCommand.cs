namespace FpgaScore.Cli;

/// <summary><c>fpgascore score</c>: scores the images in one batch call and prints the top-k of each.</summary>
internal static class ScoreCommand
{
    public static async Task<int> RunAsync(CliArguments args, TextWriter stdout, TextWriter stderr)
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
            var request = ImageRequest.FromFiles(args.Images.ToArray());
            var result = await client.ScoreWithDetailsAsync<float[,]>(request);
            var rows = Predictions.TopK(result.Scores, args.Top);
            await stdout.WriteAsync(args.Json ? Output.Json(args.Images, rows, result.RequestId) : Output.Text(args.Images, rows));
            return 0;
        }
        catch (ScoringException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {e.Message}");
            return 1;
        }
        catch (IOException e)
        {
            await stderr.WriteLineAsync($"fpgascore: {e.Message}");
            return 1;
        }
    }
}
