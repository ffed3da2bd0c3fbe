using FpgaScore;
using FpgaScore.Benchmarks;
using FpgaScore.V1;
using Grpc.Net.Client;

// Client vs raw generated stub, same payloads, same server, interleaved calls:
//   dotnet run -c Release --project csharp/FpgaScore.Benchmarks -- [--host H --port P] [--calls N] [--image PATH]
string host = "127.0.0.1";
int? port = null;
int calls = 200;
string? image = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--host": host = args[++i]; break;
        case "--port": port = int.Parse(args[++i]); break;
        case "--calls": calls = int.Parse(args[++i]); break;
        case "--image": image = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

using var server = port is null ? LocalServer.Start() : null;
port ??= server!.Port;
image ??= FindImage();

using var client = new ScoringClient(host, port.Value, false, null);
using var channel = GrpcChannel.ForAddress($"http://{host}:{port}");
var stub = new PredictionService.PredictionServiceClient(channel);

var imageBytes = File.ReadAllBytes(image);
var tensor = new float[224 * 224 * 3];
for (int i = 0; i < tensor.Length; i++) tensor[i] = (i % 251) / 251f;

Console.WriteLine($"server {host}:{port}, {calls} calls per contender after 20 warm-up calls, sequential, interleaved");
double worst = 0;
foreach (var (label, request) in new (string, IScoringRequest)[]
         {
             ($"image {Path.GetFileName(image)} ({imageBytes.Length} B)", new ImageRequest(imageBytes)),
             ("float tensor [1,224,224,3] (602 KB)", new FloatRequest(tensor, 224, 224, 3)),
         })
{
    var raw = new Measure("raw stub (PredictAsync)");
    var ours = new Measure("ScoringClient.ScoreAsync");
    var message = request.BuildRequest(RequestSettings.Default);
    async Task Raw()
    {
        var response = await stub.PredictAsync(message, deadline: DateTime.UtcNow.AddSeconds(10));
        Scores.Decode(response); // the raw caller also needs the floats
    }
    Task Client() => client.ScoreAsync<float[]>(request);

    for (int i = 0; i < 20; i++)
    {
        await Raw();
        await Client();
    }
    for (int i = 0; i < calls; i++)
    {
        // Interleave so drift on the server or the machine hits both alike.
        if (i % 2 == 0) { await raw.RunOnceAsync(Raw); await ours.RunOnceAsync(Client); }
        else { await ours.RunOnceAsync(Client); await raw.RunOnceAsync(Raw); }
    }
    var ratio = ours.Mean / raw.Mean;
    worst = Math.Max(worst, ratio);
    Console.WriteLine($"\n{label}");
    Console.WriteLine("  " + raw);
    Console.WriteLine("  " + ours);
    Console.WriteLine($"  ratio client/raw (mean): {ratio:0.000}   (p50: {ours.Percentile(50) / raw.Percentile(50):0.000})");
}
Console.WriteLine($"\nworst mean ratio client/raw: {worst:0.000}");
return 0;

static string FindImage()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "conformance", "testdata", "images", "gradient.jpg");
        if (File.Exists(candidate)) return candidate;
    }
    throw new InvalidOperationException("conformance/testdata/images/gradient.jpg not found; pass --image");
}
