using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore;

/// <summary>
/// What <see cref="ScoringClient"/> offers, as an interface: code that takes an <see cref="IScoringClient"/> can be
/// tested with a mock or a fake instead of a server. The members are documented on <see cref="ScoringClient"/>.
/// </summary>
public interface IScoringClient : IDisposable
{
    /// <summary>The server's address.</summary>
    Uri Target { get; }

    /// <summary>Scores a request (see <see cref="ScoringClient.Score{T}"/>).</summary>
    T Score<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default);

    /// <summary>Scores a request asynchronously (see <see cref="ScoringClient.ScoreAsync{T}(IScoringRequest, Metadata, DateTime?, CancellationToken)"/>).</summary>
    Task<T> ScoreAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default);

    /// <summary>Scores a request with the client's default deadline.</summary>
    Task<T> ScoreAsync<T>(IScoringRequest request, CancellationToken cancellationToken);

    /// <summary>Scores a request and returns the shape, request id, attempts and trailers too.</summary>
    Task<ScoringResult<T>> ScoreWithDetailsAsync<T>(IScoringRequest request, Metadata? headers = null, DateTime? deadline = null,
        CancellationToken cancellationToken = default);

    /// <summary>The low-level call (see <see cref="ScoringClient.PredictAsync"/>).</summary>
    Task<PredictResponse> PredictAsync(PredictRequest request, Metadata? headers = null, DateTime? deadline = null,
        CancellationToken cancellationToken = default);

    /// <summary>The served model's metadata (see <see cref="ScoringClient.GetModelMetadata"/>).</summary>
    ModelMetadata GetModelMetadata(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default);

    /// <summary>The served model's metadata, asynchronously.</summary>
    Task<ModelMetadata> GetModelMetadataAsync(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default);

    /// <summary>The served model's metadata, asynchronously, with the client's default deadline.</summary>
    Task<ModelMetadata> GetModelMetadataAsync(CancellationToken cancellationToken);

    /// <summary>The server's health (see <see cref="ScoringClient.CheckHealthAsync"/>).</summary>
    Task<string> CheckHealthAsync(string service = "", CancellationToken cancellationToken = default);

    /// <summary>The server's health, with a blocking call.</summary>
    string CheckHealth(string service = "", CancellationToken cancellationToken = default);
}
