using FpgaScore.V1;

namespace FpgaScore;

/// <summary>A request the client can score: it builds the <see cref="PredictRequest"/> to send.</summary>
/// <remarks>
/// Implement it for custom inputs. <see cref="BuildRequest"/> may be called more than once for one
/// request (the client may send it again), so it must not consume anything.
/// </remarks>
public interface IScoringRequest
{
    /// <summary>Builds the message to send, using the client's model, signature and input names.</summary>
    PredictRequest BuildRequest(RequestSettings settings);
}

/// <summary>The names a request is built with (from <see cref="ScoringClientOptions"/>).</summary>
/// <param name="ModelName"><c>model_spec.name</c>, e.g. <c>resnet50</c>.</param>
/// <param name="SignatureName"><c>model_spec.signature_name</c>, e.g. <c>serving_default</c>.</param>
/// <param name="InputName">The key of the input tensor, e.g. <c>images</c>.</param>
public sealed record RequestSettings(string ModelName, string SignatureName, string InputName)
{
    /// <summary>The service's output name, which the server returns when <c>output_filter</c> is empty.</summary>
    public const string DefaultOutputName = "output_alias";

    /// <summary>
    /// The output the client reads. When it is not <see cref="DefaultOutputName"/>, requests name it in
    /// <c>output_filter</c> (the server returns only <c>output_alias</c> otherwise).
    /// </summary>
    public string OutputName { get; init; } = DefaultOutputName;

    /// <summary>The service's defaults: <c>resnet50</c>, <c>serving_default</c>, <c>images</c>.</summary>
    public static RequestSettings Default { get; } = new("resnet50", "serving_default", "images");
}
