using Grpc.Core;

namespace FpgaScore;

/// <summary>Scores together with what the call looked like.</summary>
/// <typeparam name="T">The scores' array type (<c>float[]</c>, <c>float[,]</c>, <c>float[][]</c>).</typeparam>
/// <param name="Scores">The scores.</param>
/// <param name="Shape">The output tensor's shape, e.g. [N,1000].</param>
/// <param name="RequestId">The server's <c>request-id</c>; empty when it sent none.</param>
/// <param name="Attempts">Attempts made, a secondary-key repeat included.</param>
public sealed record ScoringResult<T>(T Scores, IReadOnlyList<long> Shape, string RequestId, int Attempts)
{
    /// <summary>The last attempt's trailing metadata (the server's <c>request-id</c> among it). A failed call's are
    /// <see cref="RpcException.Trailers"/> of its <see cref="ScoringException"/>.</summary>
    public Metadata Trailers { get; init; } = new();
}
