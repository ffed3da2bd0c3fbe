using Google.Protobuf;
using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Conformance;

/// <summary>
/// The driver protocol's encoding (proto/fpgascore/conformance/v1/driver.proto): one message per line in protobuf's
/// canonical JSON, lowerCamelCase on output; input in either spelling, unknown fields ignored.
/// </summary>
internal static class Protocol
{
    public const string Version = "1.1";

    public static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);

    public static T Parse<T>(string line) where T : IMessage<T>, new()
    {
        try
        {
            return Parser.Parse<T>(line);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            throw new BadRequestException(e.Message);
        }
    }

    public static Dp.HelloAnswer HelloAnswer() => new()
    {
        ProtocolVersion = Version,
        Driver = "FpgaScore.Conformance",
        Client = "FpgaScore",
        ClientVersion = typeof(ScoringClient).Assembly.GetName().Version?.ToString(3) ?? "",
        Language = "csharp",
    };
}
