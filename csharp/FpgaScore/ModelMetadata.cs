using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using FpgaScore.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace FpgaScore;

/// <summary>One input or output of the model's signature.</summary>
/// <param name="Name">The name used in requests and responses, e.g. <c>images</c> or <c>output_alias</c>.</param>
/// <param name="DataType">The TensorFlow dtype name, e.g. <c>DT_STRING</c> or <c>DT_FLOAT</c>
/// (<c>DT_UNKNOWN_&lt;n&gt;</c> for a number this client does not know).</param>
/// <param name="Shape">The dimensions, -1 for a dimension of any size (the batch); empty when the server gave none.</param>
/// <remarks>Equality compares <see cref="Shape"/> element by element, not the list's reference.</remarks>
public sealed record TensorSpec(string Name, string DataType, IReadOnlyList<long> Shape)
{
    /// <summary>Whether <paramref name="other"/> has the same name, dtype and dimensions.</summary>
    public bool Equals(TensorSpec? other) =>
        other is not null && Name == other.Name && DataType == other.DataType && Shape.SequenceEqual(other.Shape);

    /// <summary>A hash of the name, dtype and dimensions (consistent with <see cref="Equals(TensorSpec?)"/>).</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(DataType);
        foreach (var d in Shape) hash.Add(d);
        return hash.ToHashCode();
    }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture, $"Name = {Name}, DataType = {DataType}, Shape = [{string.Join(",", Shape)}]");
        return true;
    }
}

/// <summary>
/// What <see cref="ScoringClient.GetModelMetadataAsync(Metadata?, DateTime?, CancellationToken)"/> returns: the
/// served model, its version, and the signature the client uses (<see cref="ScoringClientOptions.SignatureName"/>).
/// </summary>
/// <param name="ModelName">The model the server answered for (its <c>model_spec.name</c>).</param>
/// <param name="Version">Its version; null when the server did not say.</param>
/// <param name="SignatureName">The signature described (the client's, <c>serving_default</c> by default).</param>
/// <param name="Inputs">The signature's inputs, by name (ordinal order).</param>
/// <param name="Outputs">The signature's outputs, by name (ordinal order).</param>
/// <remarks>Equality compares <see cref="Inputs"/> and <see cref="Outputs"/> element by element, not the lists' references.</remarks>
public sealed record ModelMetadata(string ModelName, long? Version, string SignatureName,
    IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    /// <summary>The input called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The signature has no such input (the message lists the inputs).</exception>
    public TensorSpec Input(string name) => Named(Inputs, name, "input");

    /// <summary>The output called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The signature has no such output (the message lists the outputs).</exception>
    public TensorSpec Output(string name) => Named(Outputs, name, "output");

    /// <summary>Whether <paramref name="other"/> describes the same model, version, signature, inputs and outputs.</summary>
    public bool Equals(ModelMetadata? other) =>
        other is not null && ModelName == other.ModelName && Version == other.Version && SignatureName == other.SignatureName
        && Inputs.SequenceEqual(other.Inputs) && Outputs.SequenceEqual(other.Outputs);

    /// <summary>A hash of every field (consistent with <see cref="Equals(ModelMetadata?)"/>).</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(ModelName);
        hash.Add(Version);
        hash.Add(SignatureName);
        foreach (var spec in Inputs) hash.Add(spec);
        hash.Add(-1); // separates the inputs from the outputs
        foreach (var spec in Outputs) hash.Add(spec);
        return hash.ToHashCode();
    }

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture, $"ModelName = {ModelName}, Version = {Version?.ToString(CultureInfo.InvariantCulture) ?? "null"}, SignatureName = {SignatureName}, ");
        builder.Append(CultureInfo.InvariantCulture, $"Inputs = [{string.Join(", ", Inputs)}], Outputs = [{string.Join(", ", Outputs)}]");
        return true;
    }

    private static TensorSpec Named(IReadOnlyList<TensorSpec> specs, string name, string kind) =>
        specs.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException(
            $"the signature has no {kind} '{name}' ({kind}s: {(specs.Count == 0 ? "none" : string.Join(", ", specs.Select(s => s.Name)))})");
}

/// <summary>TF Serving's <c>GetModelMetadata</c>: the request the client sends and the decoding of the answer.</summary>
internal static class ModelMetadataCodec
{
    /// <summary>The metadata field asked for and read: the model's signatures.</summary>
    public const string SignatureDef = "signature_def";

    /// <summary>The message <c>metadata["signature_def"]</c> holds, as TF Serving names it in the type URL.</summary>
    public const string SignatureDefMapType = "tensorflow.serving.SignatureDefMap";

    private static readonly EnumDescriptor s_dataTypes =
        TensorReflection.Descriptor.EnumTypes.Single(e => e.ClrType == typeof(DataType));

    /// <summary>The request: <c>model_spec.name</c> = <paramref name="modelName"/>, <c>metadata_field</c> = [<c>signature_def</c>].</summary>
    public static GetModelMetadataRequest Request(string modelName) => new()
    {
        ModelSpec = new ModelSpec { Name = modelName },
        MetadataField = { SignatureDef },
    };

    /// <summary>The signature <paramref name="signatureName"/> of <paramref name="response"/>, its inputs and outputs by name.</summary>
    /// <exception cref="ScoringException"><c>Internal</c>, with <paramref name="requestId"/>, naming what was wrong: no
    /// <c>signature_def</c> entry, another type than a SignatureDefMap, bytes that do not parse, no such signature.</exception>
    public static ModelMetadata Decode(GetModelMetadataResponse response, string signatureName, string requestId)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.Metadata.TryGetValue(SignatureDef, out var packed) || packed is null)
            throw Internal($"model metadata has no '{SignatureDef}' (fields: {List(response.Metadata.Keys)})", requestId);
        var typeUrl = packed.TypeUrl ?? "";
        if (typeUrl[(typeUrl.LastIndexOf('/') + 1)..] != SignatureDefMapType)
            throw Internal($"model metadata '{SignatureDef}' is a '{Short(typeUrl)}', expected {SignatureDefMapType}", requestId);
        SignatureDefMap signatures;
        try
        {
            signatures = SignatureDefMap.Parser.ParseFrom(packed.Value);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Internal($"model metadata '{SignatureDef}' does not parse: {e.Message}", requestId);
        }
        if (!signatures.SignatureDef.TryGetValue(signatureName, out var signature) || signature is null)
            throw Internal($"model metadata has no signature '{signatureName}' (signatures: {List(signatures.SignatureDef.Keys)})", requestId);
        var spec = response.ModelSpec;
        return new ModelMetadata(spec?.Name ?? "", spec?.Version, signatureName, Specs(signature.Inputs), Specs(signature.Outputs));
    }

    /// <summary>The TensorFlow name of a dtype, e.g. <c>DT_FLOAT</c>; <c>DT_UNKNOWN_&lt;n&gt;</c> for a number the proto lacks.</summary>
    public static string DataTypeName(DataType dtype) =>
        s_dataTypes.FindValueByNumber((int)dtype)?.Name ?? $"DT_UNKNOWN_{(int)dtype}";

    private static ReadOnlyCollection<TensorSpec> Specs(IDictionary<string, TensorInfo> infos) =>
        infos.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => new TensorSpec(p.Key, DataTypeName(p.Value.Dtype),
                Array.AsReadOnly(p.Value.TensorShape?.Dim.Select(d => d.Size).ToArray() ?? [])))
            .ToList().AsReadOnly();

    // What a server's answer can put into an error message: a few names, each of bounded length.
    private const int EchoChars = 100;
    private const int EchoNames = 5;

    private static string List(IEnumerable<string> names)
    {
        var sorted = names.OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (sorted.Count == 0) return "none";
        var shown = string.Join(", ", sorted.Take(EchoNames).Select(Short));
        return sorted.Count > EchoNames ? $"{shown} … ({sorted.Count - EchoNames} more)" : shown;
    }

    private static string Short(string text) =>
        text.Length <= EchoChars ? text : $"{text[..EchoChars]}… ({text.Length - EchoChars} more characters)";

    private static ScoringException Internal(string message, string requestId) => new(StatusCode.Internal, message, requestId);
}
