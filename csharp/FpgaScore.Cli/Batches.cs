using Grpc.Core;

namespace FpgaScore.Cli;

/// <summary>Whether a server refused a call because it held too many images (or bytes): a smaller <c>--batch-size</c> helps.</summary>
internal static class Batches
{
    /// <summary>What servers say then: the reference server's "at most 32 per request", TF Serving's "maximum input batch
    /// size", and gRPC's message-size refusals ("larger than max", Grpc.Net's "exceeds the maximum").</summary>
    private static readonly string[] TooLargeMarkers = ["per request", "batch size", "larger than max", "exceeds the maximum"];

    /// <summary>Whether <paramref name="error"/>, the failure of a call of <paramref name="images"/> images, says the call was too large.</summary>
    public static bool TooLarge(ScoringException error, int images) =>
        images > 1
        && error.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted
        && TooLargeMarkers.Any(marker => error.Details.Contains(marker, StringComparison.OrdinalIgnoreCase));
}
